#!/usr/bin/env python3
"""Writes test/fixtures/golden/thyme.json (and the sample's image, thyme-input.png) from Thyme's
OWN evaluation code, yfzhang114/Thyme eval/VLMEvalKit/vlmeval/vlm/thyme/ (model.py, utils.py,
sandbox.py, prompt.py): its `Thyme.generate_inner` runs here as written, with scripted stand-ins
for transformers' processor and model that record every prompt the loop builds (after its own
`<|im_end|>\\n` cut), the generation arguments, and the images it hands to the processor; the
sandbox is the repository's, running the scripted code. So the expected prompts are the
repository's own; test/integration/cli/thyme.test.ts renders the requests `codedance ask
--protocol thyme` sends through the same chat template (vLLM's `continue_final_message` as
transformers implements it) and compares.

Stand-ins (nothing else is replaced): `transformers` (AutoProcessor, the model class,
DynamicCache), `torch.cuda.empty_cache`, `qwen_vl_utils.process_vision_info` (records the
images), `timeout_decorator` (no timeout: the scripted code is quick) and `autopep8` (absent
from Debian's Python; its fix_code raises, which the sandbox's try/except turns into "no
formatting", as our kernel does without it), VLMEvalKit's BaseModel and listinstr. The chat
template is Qwen2-VL's (tokenizer_config.json of Qwen/Qwen2-VL-*-Instruct, the one Qwen2.5-VL
models ship): Thyme's own checkpoint's cannot be read here.

Usage:
  git -C <Thyme mirror> archive b9285b7a0c5f1effcd9908ec5936fae47fc592e5 eval/VLMEvalKit/vlmeval/vlm/thyme | tar -x -C /tmp/thyme
  python3 scripts/golden/thyme_requests.py --thyme-dir /tmp/thyme/eval/VLMEvalKit/vlmeval/vlm/thyme --commit b9285b7a0c5f1effcd9908ec5936fae47fc592e5
(/usr/bin/python3 on Debian 12: Pillow, numpy.)"""
import argparse
import copy
import hashlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import types

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
WORKDIR = "{workdir}"  # the kernel's working folder, in the golden's text

# the scripted samples: a block that crops and saves (its image goes back), then the answer;
# and a run that never answers (a failing block, a reply with neither, four generations of
# "still thinking", then the plain prompt)
QUESTION = "What color is the small square? It is inside [296, 196, 316, 216]."
OPTIONS = ["red", "green", "blue", "yellow"]
CODE = ('from PIL import Image\nimport numpy as np\n\nimage_path = "/mnt/data/images/question.jpg"\n'
        'image = Image.open(image_path).convert("RGB")\ncrop_box = (296, 196, 316, 216)\ncropped = image.crop(crop_box)\n'
        'processed_path = "/mnt/data/temp_processed_images/square_crop.png"\ncropped.save(processed_path)\nprint(processed_path)')
REPLIES = [
    "<think>The square is too small to see at this scale. I will crop the region the question names and look at it.\n"
    "<code>\n```python\n" + CODE + "\n```\n</code>",
    "\nIn the cropped region the square is red.</think>\n<answer>A. red</answer>",
]
NEVER = [
    "<think>Let me crop it.\n<code>\n```python\ncropped = image.crop(crop_bbox)\n```\n</code>",
    "<think>Let me think about the image.</think>",
    "<think>still thinking</think>",
    "<think>still thinking</think>",
    "<think>still thinking</think>",
    "<think>still thinking</think>",
    "The square is red.",
]
TEMPLATE_NOTE = "Qwen2-VL chat template (tokenizer_config.json of Qwen/Qwen2-VL-*-Instruct)"


def render(conversation, add_generation_prompt):
    """the Qwen2-VL chat template, as Jinja renders it"""
    out = []
    for i, m in enumerate(conversation):
        if i == 0 and m["role"] != "system":
            out.append("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
        out.append(f"<|im_start|>{m['role']}\n")
        if isinstance(m["content"], str):
            out.append(m["content"] + "<|im_end|>\n")
        else:
            for c in m["content"]:
                if c.get("type") == "image" or "image" in c or "image_url" in c:
                    out.append("<|vision_start|><|image_pad|><|vision_end|>")
                elif c.get("type") == "video" or "video" in c:
                    out.append("<|vision_start|><|video_pad|><|vision_end|>")
                elif "text" in c:
                    out.append(c["text"])
            out.append("<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


class Recorder:
    def __init__(self, replies):
        self.replies = list(replies)
        self.calls = []
        self.pending = {}


def stub_modules(rec):
    """the modules model.py and prompt.py import, as stand-ins"""
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Ids(list):
        def to(self, _device):
            return self

    class Inputs(dict):
        def __getattr__(self, k):
            return self[k]

        def to(self, _device):
            return self

    class Tokenizer:
        eos_token_id = -1

        def batch_decode(self, ids, **_kw):
            return [rec.pending["reply"]]

    class Processor:
        tokenizer = Tokenizer()

        def apply_chat_template(self, conversations, tokenize=False, add_generation_prompt=False):
            rec.pending = {"add_generation_prompt": add_generation_prompt}
            return [render(conversations[0], add_generation_prompt)]

        def __call__(self, text, images=None, videos=None, **_kw):
            rec.pending["prompt"] = text[0]
            return Inputs(input_ids=[Ids([0])])

    class Model:
        def eval(self):
            return self

        def generate(self, **kw):
            reply = rec.replies.pop(0) if rec.replies else "<think>still thinking</think>"
            rec.pending["reply"] = reply
            args = {k: kw[k] for k in ("max_new_tokens", "top_p", "top_k", "temperature", "repetition_penalty") if k in kw}
            if "stop_strings" in kw:
                args["stop_strings"] = list(kw["stop_strings"])
            rec.calls.append({**rec.pending, "generate": args})
            return [[0, 1]]

    class AutoProcessor:
        @staticmethod
        def from_pretrained(*_a, **_kw):
            return Processor()

    class ModelCls:
        @staticmethod
        def from_pretrained(*_a, **_kw):
            return Model()

    mod("transformers", AutoProcessor=AutoProcessor, Qwen2_5_VLForConditionalGeneration=ModelCls)
    mod("transformers.cache_utils", DynamicCache=dict)
    mod("torch", cuda=types.SimpleNamespace(empty_cache=lambda: None))

    def process_vision_info(conversations):
        images = []
        for m in conversations[0]:
            if isinstance(m["content"], list):
                images += [c["image"] for c in m["content"] if c.get("type") == "image" or "image" in c]
        rec.pending["images"] = images
        return None, None
    mod("qwen_vl_utils", process_vision_info=process_vision_info)

    def timeout(_seconds, use_signals=True):
        return lambda f: f
    mod("timeout_decorator", timeout=timeout, TimeoutError=type("TimeoutError", (AssertionError,), {}))

    def fix_code(_code, options=None):
        raise RuntimeError("autopep8 is not installed")
    mod("autopep8", fix_code=fix_code)

    class BaseModel:
        def __init__(self, *a, **kw):
            pass
    pkg = mod("vlmeval")
    pkg.__path__ = []
    mod("vlmeval.smp", listinstr=lambda lst, s: any(x in s for x in lst))
    vlm = mod("vlmeval.vlm")
    vlm.__path__ = []
    mod("vlmeval.vlm.base", BaseModel=BaseModel)


def load_thyme(thyme_dir):
    spec = importlib.util.spec_from_file_location("vlmeval.vlm.thyme", os.path.join(thyme_dir, "__init__.py"),
                                                  submodule_search_locations=[thyme_dir])
    m = importlib.util.module_from_spec(spec)
    sys.modules["vlmeval.vlm.thyme"] = m
    spec.loader.exec_module(m)
    return m


def sample_image():
    """a 448x336 PNG: a soft gradient, a 12-px red square at (300, 200), a blue one elsewhere"""
    from PIL import Image
    img = Image.new("RGB", (448, 336))
    px = img.load()
    for y in range(336):
        for x in range(448):
            v = 200 + (x + y) * 30 // (448 + 336)
            px[x, y] = (v, v + 3, min(255, v + 8))
    for y in range(200, 212):
        for x in range(300, 312):
            px[x, y] = (220, 40, 40)
    for y in range(60, 72):
        for x in range(50, 62):
            px[x, y] = (40, 80, 220)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def pixels(path):
    """an image the loop hands the processor, as qwen_vl_utils' fetch_image makes it (RGB,
    smart_resize 28 / 4*28*28 / 16384*28*28, PIL's default resize): size and sha256 of its pixels"""
    from PIL import Image
    import math
    img = Image.open(path[7:] if path.startswith("file://") else path).convert("RGB")
    w, h = img.size
    hb, wb = max(28, round(h / 28) * 28), max(28, round(w / 28) * 28)
    if hb * wb > 16384 * 28 * 28:
        beta = math.sqrt(h * w / (16384 * 28 * 28))
        hb, wb = math.floor(h / beta / 28) * 28, math.floor(w / beta / 28) * 28
    elif hb * wb < 4 * 28 * 28:
        beta = math.sqrt(4 * 28 * 28 / (h * w))
        hb, wb = math.ceil(h * beta / 28) * 28, math.ceil(w * beta / 28) * 28
    img = img.resize((wb, hb))
    return f"{wb}x{hb} sha256 {hashlib.sha256(img.tobytes()).hexdigest()}"


def run(thyme, rec, workdir, image_path, prompt):
    model = thyme.Thyme(model_path="yifanzhang114/Thyme", max_iterations=5, max_retry=5,
                        use_custom_prompt=True, post_process=True, verbose=False)
    cwd = os.getcwd()
    os.chdir(workdir)
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out
    try:
        answer = model.generate_inner([{"type": "image", "value": image_path}, {"type": "text", "value": prompt}])
    finally:
        sys.stdout = saved
        os.chdir(cwd)
    calls = []
    for c in rec.calls:
        calls.append({
            "prompt": c["prompt"].replace(workdir, WORKDIR),
            "add_generation_prompt": c["add_generation_prompt"],
            "generate": c["generate"],
            # relative paths (the sandbox's ./temp_processed_images/) are the working folder's
            "images": [pixels(p if os.path.isabs(p.replace("file://", "")) else os.path.join(workdir, p)) for p in c.get("images", [])],
        })
    return calls, answer


def build_prompt(thyme, question, options):
    """the repository's _build_mcq_prompt on a one-row stand-in of a VLMEvalKit line"""
    class Line(dict):
        pass
    line = Line(question=question, **{chr(65 + i): o for i, o in enumerate(options)})
    mixin = thyme.ThymePromptMixin.__new__(thyme.ThymePromptMixin)
    mixin.dump_image = lambda _line, _dataset: "unused.jpg"
    sys.modules.setdefault("pandas", types.ModuleType("pandas")).isna = lambda v: v is None
    return mixin._build_mcq_prompt(line, "VStarBench")[-1]["value"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--thyme-dir", required=True, help="yfzhang114/Thyme eval/VLMEvalKit/vlmeval/vlm/thyme")
    ap.add_argument("--commit", default="", help="the Thyme commit the files are from (recorded)")
    a = ap.parse_args()
    png = sample_image()
    with open(os.path.join(GOLDEN, "thyme-input.png"), "wb") as f:
        f.write(png)
    shas = {}
    for name in ("model.py", "utils.py", "sandbox.py", "prompt.py"):
        with open(os.path.join(a.thyme_dir, name), "rb") as f:
            shas[name] = hashlib.sha256(f.read()).hexdigest()
    results = {}
    prompt = None
    for key, replies in (("twoTurns", REPLIES), ("neverAnswers", NEVER)):
        rec = Recorder(replies)
        stub_modules(rec)
        for k in [k for k in sys.modules if k.startswith("vlmeval.vlm.thyme")]:
            del sys.modules[k]
        thyme = load_thyme(a.thyme_dir)
        prompt = build_prompt(thyme, QUESTION, OPTIONS)
        with tempfile.TemporaryDirectory() as workdir:
            workdir = os.path.realpath(workdir)
            image_path = os.path.join(workdir, "thyme", "input_image.png")
            os.makedirs(os.path.dirname(image_path))
            with open(image_path, "wb") as f:
                f.write(png)
            calls, answer = run(thyme, rec, workdir, image_path, prompt)
        results[key] = {"replies": replies, "calls": calls, "answer": answer}
    utils = sys.modules["vlmeval.vlm.thyme.utils"]
    golden = {
        "_comment": "Generated by scripts/golden/thyme_requests.py from Thyme's eval/VLMEvalKit/vlmeval/vlm/thyme (its Thyme.generate_inner run as written with scripted stand-ins for the model and processor). Do not edit by hand.",
        "source": {"repo": "yfzhang114/Thyme", "dir": "eval/VLMEvalKit/vlmeval/vlm/thyme", "commit": a.commit, "sha256": shas},
        "python": sys.version.split()[0],
        "template": TEMPLATE_NOTE,
        "strings": {
            "REASONING_SYS_PROMPT": utils.REASONING_SYS_PROMPT,
            "SIMPLE_SYS_PROMPT": utils.SIMPLE_SYS_PROMPT,
            "final_qa": utils.generate_prompt_final_qa("{question}", "{image_path}"),
            "simple_qa": utils.generate_prompt_simple_qa("{question}"),
            "SPECIAL_STRING_LIST": utils.SPECIAL_STRING_LIST,
        },
        "sample": {"image": "thyme-input.png", "question": QUESTION, "options": OPTIONS, "prompt": prompt, "model": "thyme-fixture"},
        **results,
    }
    with open(os.path.join(GOLDEN, "thyme.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote test/fixtures/golden/thyme.json ({len(results['twoTurns']['calls'])} calls; never answers: "
          f"{len(results['neverAnswers']['calls'])} calls, answer {results['neverAnswers']['answer']!r}) and thyme-input.png")


if __name__ == "__main__":
    main()
