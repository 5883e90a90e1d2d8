#!/usr/bin/env python3
"""Writes test/fixtures/golden/pyvision.json (and the samples' image, pyvision-input.jpg) from
PyVision's OWN inference engine, agents-x-project/PyVision inference_engine/: its
evaluate_single_data() runs here as written, with its own PythonExecutor (the persistent worker
process main.py line 79 makes), on scripted replies given by a stand-in for the OpenAI client that
records every request it is sent and, as a server does, ends each reply before the request's stop
string. So the expected requests are the repository's own: its prompt template file, its message
building, and the <interpreter> texts its executor really printed for the scripted code on the
sample image. test/integration/cli/pyvision.test.ts compares them with what
`codedance ask --protocol pyvision` sends; test/unit/protocol/pyvision.test.ts compares the first
messages of process_prompt_init / process_prompt_init_multi_images (one image, several, the
<IMAGE_PLACE_HOLDER_i> variants) with ours.

The arguments are main.py's (lines 57-71) with its defaults (14-36): prompt
vistool_with_img_info_v2, exe_code, max_tokens 10000, temperature 0.6, client_type openai.
Stand-ins, only for modules the two files import but these paths never call, and only where this
Python lacks them: openai and anthropic (imported at the top), tqdm (batch_apply's progress bar,
used past 100 snippets); `regex` is Python's `re` (its one pattern, line 258, means the same in both).

Usage:
  git -C <PyVision clone or mirror> archive d08b4502d6183199579cd7c57883f22efd5125c2 inference_engine prompt_template | tar -x -C /tmp/pyvision
  /usr/bin/python3 scripts/golden/pyvision_requests.py --repo /tmp/pyvision --commit d08b4502d6183199579cd7c57883f22efd5125c2
(Debian 12's /usr/bin/python3 has Pillow, numpy, matplotlib and dateutil, which the engine needs.)"""
import argparse
import base64
import copy
import hashlib
import io
import json
import os
import re
import struct
import sys
import tempfile
import types

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
FILES = ["inference_engine/vis_inference_demo_gpt.py", "inference_engine/safe_persis_shared_vis_python_exe.py",
         "prompt_template/prompt_template_vis.json"]
MODEL = "pyvision-fixture"

FENCE = "```"


def code_reply(words, code):
    return f"{words}\n<code>\n{FENCE}python\n{code}\n{FENCE}\n</code>\n"


# the scripted two-turn sample: code that measures image_clue_0 and shows a crop, then the answer
QUESTION = "What color is the small square?"
REPLIES = [
    code_reply(
        "I will find the strongly coloured pixels of the image and look at them closely.",
        "import numpy as np\n"
        "img = np.asarray(image_clue_0).astype(int)\n"
        "sat = img.max(axis=2) - img.min(axis=2)\n"
        "ys, xs = np.nonzero(sat > 80)\n"
        "box = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))\n"
        "print('image:', image_clue_0.size, image_clue_0.mode)\n"
        "print('square_bbox =', box)\n"
        "print('square_rgb =', tuple(int(v) for v in np.median(img[ys, xs], axis=0)))\n"
        "plt.imshow(img[box[1] - 10:box[3] + 11, box[0] - 10:box[2] + 11].astype('uint8'))\n"
        "plt.axis('off')\n"
        "plt.show()"),
    "The code printed the square's colour: it is red.\n<answer>\n\\boxed{'red'}\n</answer>",
]

# a longer one for the executor's other paths: a long output cut to 400 characters, a figure, an error
# (its output and figure dropped), refused code, variables and names kept across turns, two figures
STEPS_QUESTION = "How long is the string the code builds?"
STEPS_REPLIES = [
    code_reply("First I build the string.", "s = 'pyvision ' * 60\nprint(s)\nprint(len(s))\nplt.plot([1, 3, 2])\nplt.show()"),
    code_reply("Now a mistake.", "print(len(s))\nplt.plot([0, 1])\nplt.show()\nprint(undefined_name)"),
    code_reply("And a forbidden call.", "answer = input('length? ')"),
    code_reply(
        "What is still there?",
        "print(len(s), type(image_clue_0).__name__, image_clue_0.format, image_clue_0.mode)\n"
        "print(sorted(k for k in ['np', 'plt', 'Image', 'io', 'base64', 'matplotlib', 'image_clue_0', 'image_clue_1'] if k in globals()))\n"
        "plt.figure(figsize=(2, 2))\n"
        "plt.plot([0, 1])\n"
        "plt.show()\n"
        "plt.figure(figsize=(3, 2))\n"
        "plt.plot([1, 0])\n"
        "plt.show()"),
    "The string is 540 characters long.\n<answer>\n\\boxed{'540'}\n</answer>",
]


def stand_ins():
    """modules the engine imports but these paths never use, where this Python lacks them"""
    for name, attrs in (("openai", {"OpenAI": object}), ("anthropic", {}), ("tqdm", {"tqdm": None})):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.SimpleNamespace(**attrs)
    try:
        import regex  # noqa: F401
    except ImportError:
        sys.modules["regex"] = re


class ScriptedClient:
    """client.chat.completions.create(**params): records params (a deep copy: the repository
    extends the same list afterwards), answers the next scripted reply, cut before the first stop
    string as an OpenAI-compatible server cuts it (the stop string is not returned)"""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        self.options = []
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self.create))

    def create(self, **params):
        # `timeout` is the client's own option (openai-python), not a field of the request body
        self.options.append({k: params.pop(k) for k in ["timeout"] if k in params})
        self.requests.append(copy.deepcopy(params))
        content = self.replies.pop(0) if self.replies else "I am done.\n<answer>\n\\boxed{'none'}\n</answer>"
        cut = min([content.index(s) for s in params.get("stop") or [] if s in content], default=len(content))
        message = types.SimpleNamespace(content=content[:cut])
        return types.SimpleNamespace(choices=[types.SimpleNamespace(message=message, finish_reason="stop")])


def jpeg_sample():
    """a 448x336 JPEG: a soft grey gradient and a 12-px red square at (300, 200)"""
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
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def tiny_png(w, h, color):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def png_sizes(requests):
    """the sizes of the PNGs the executor sent back (the figures), in order"""
    out = []
    for m in requests[-1]["messages"]:
        for part in m["content"] if isinstance(m["content"], list) else []:
            if part.get("type") != "image_url":
                continue
            raw = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
            if raw[:8] == b"\x89PNG\r\n\x1a\n":
                out.append(list(struct.unpack(">II", raw[16:24])))
    return out


def drop_figures(value):
    """each figure (a PNG the code drew) as a marker with its size: the tests compare figures by
    number and place, not by pixels (our kernel draws them its own way), and they are most of the file"""
    if isinstance(value, list):
        return [drop_figures(v) for v in value]
    if isinstance(value, dict):
        return {k: drop_figures(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("data:image/jpeg;base64,iVBORw0KGgo"):
        raw = base64.b64decode(value.split(",", 1)[1])
        w, h = struct.unpack(">II", raw[16:24])
        return f"data:image/jpeg;base64,iVBORw0KGgo… (a PNG figure, {w}x{h}, not kept)"
    return value


def run_sample(engine, executor_cls, template, image, question, replies):
    client = ScriptedClient(replies)
    args = {"max_tokens": 10000, "prompt_template": template, "prompt": "vistool_with_img_info_v2", "exe_code": True,
            "temperature": 0.6, "client_type": "openai", "api_name": MODEL}
    executor = executor_cls()
    saved, sys.stdout = sys.stdout, io.StringIO()  # the engine prints its image counts
    try:
        messages, final = engine.evaluate_single_data(args, {"question": question, "image_path_list": [image]}, client, executor)
    finally:
        sys.stdout = saved
        if executor.persistent_worker:
            executor.persistent_worker.terminate()
    return {"requests": drop_figures(client.requests), "clientOptions": client.options[0], "final_response": final,
            "messages": drop_figures(messages), "figureSizes": png_sizes(client.requests)}


def first_messages(engine, template, d):
    """process_prompt_init / process_prompt_init_multi_images as evaluate_single_data calls them (lines 469-474)"""
    files = []
    for i, (w, h, color) in enumerate([(5, 4, (200, 30, 30)), (3, 7, (30, 30, 200))]):
        path = os.path.join(d, f"clue{i}.png")
        with open(path, "wb") as f:
            f.write(tiny_png(w, h, color))
        files.append({"path": path, "width": w, "height": h})
    cases = [
        ("one image", 1, "Which colour is it? Braces {stay} {{as}} they are."),
        ("one image, placeholder", 1, "Look at this: <IMAGE_PLACE_HOLDER_0> Which colour is it?"),
        ("one image, placeholder first", 1, "<IMAGE_PLACE_HOLDER_0>\nWhich colour is it?"),
        ("two images", 2, "Which image is taller?"),
        ("two images, placeholders", 2, "First <IMAGE_PLACE_HOLDER_0> then <IMAGE_PLACE_HOLDER_1> which is taller?"),
        ("two images, one placeholder", 2, "Only <IMAGE_PLACE_HOLDER_1> is placed; which is taller?"),
    ]
    out = []
    for name, n, question in cases:
        paths = [f["path"] for f in files[:n]]
        if n == 1:
            messages = engine.process_prompt_init(question, paths, template, "vistool_with_img_info_v2", MODEL)
        else:
            messages = engine.process_prompt_init_multi_images(question, paths, template, "vistool_with_img_info_multi_image", MODEL)
        images = [{"base64": base64.b64encode(open(f["path"], "rb").read()).decode("ascii"), "width": f["width"], "height": f["height"]}
                  for f in files[:n]]
        out.append({"name": name, "question": question, "images": images, "messages": messages})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="a folder holding PyVision's inference_engine/ and prompt_template/")
    ap.add_argument("--commit", default="", help="the PyVision commit the files are from (recorded)")
    a = ap.parse_args()
    stand_ins()
    sys.path.insert(0, a.repo)
    from inference_engine import vis_inference_demo_gpt as engine
    from inference_engine.safe_persis_shared_vis_python_exe import PythonExecutor
    template = os.path.join(a.repo, "prompt_template", "prompt_template_vis.json")
    with open(template, encoding="utf-8") as f:
        strings = json.load(f)
    jpeg = jpeg_sample()
    with open(os.path.join(GOLDEN, "pyvision-input.jpg"), "wb") as f:
        f.write(jpeg)
    import matplotlib
    import numpy
    import PIL
    with tempfile.TemporaryDirectory() as d:
        image = os.path.join(d, "sample.jpg")
        with open(image, "wb") as f:
            f.write(jpeg)
        sample = run_sample(engine, PythonExecutor, template, image, QUESTION, REPLIES)
        steps = run_sample(engine, PythonExecutor, template, image, STEPS_QUESTION, STEPS_REPLIES)
        firsts = first_messages(engine, template, d)
    first = sample["requests"][0]
    golden = {
        "_comment": "Generated by scripts/golden/pyvision_requests.py from PyVision's inference_engine/ (its evaluate_single_data() and PythonExecutor run as written with a scripted client). Do not edit by hand.",
        "source": {"repo": "agents-x-project/PyVision", "commit": a.commit,
                   "sha256": {p: hashlib.sha256(open(os.path.join(a.repo, p), "rb").read()).hexdigest() for p in FILES}},
        "python": sys.version.split()[0],
        "versions": {"pillow": PIL.__version__, "numpy": numpy.__version__, "matplotlib": matplotlib.__version__},
        "strings": {k: strings[k] for k in ["vistool_with_img_info_v2", "vistool_with_img_info_multi_image"]},
        "sampling": {k: v for k, v in first.items() if k not in ("model", "messages")},
        "sample": {"image": "pyvision-input.jpg", "question": QUESTION, "model": MODEL, "replies": REPLIES, **sample},
        "steps": {"image": "pyvision-input.jpg", "question": STEPS_QUESTION, "model": MODEL, "replies": STEPS_REPLIES, **steps},
        "firstMessages": firsts,
    }
    with open(os.path.join(GOLDEN, "pyvision.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote test/fixtures/golden/pyvision.json ({len(sample['requests'])} + {len(steps['requests'])} requests, "
          f"{len(firsts)} first messages; figures {sample['figureSizes']} {steps['figureSizes']}) and pyvision-input.jpg ({len(jpeg)} bytes)")


if __name__ == "__main__":
    main()
