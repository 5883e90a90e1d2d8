#!/usr/bin/env python3
"""Writes test/fixtures/golden/deepeyes.json (and the sample's image, deepeyes-input.jpg) from
DeepEyes' OWN evaluation script, Visual-Agent/DeepEyes eval/eval_vstar.py: its `process()` runs
here as written, on a one-question V* folder made here, with a scripted stand-in for its OpenAI
client that records every request it is sent. So the expected requests are the repository's
own, built by its own code and strings; test/integration/cli/deepeyes.test.ts compares them with
what `codedance ask --protocol deepeyes` sends.

Nothing of eval_vstar.py runs but its constants, its helper functions and process(); the only
names given to them are `client` (the stand-in), `eval_model_name`, and `eval`, which is
ast.literal_eval here (the repository evaluates the model's <tool_call> with Python's eval; the
scripted calls are plain literals, so both read them alike).

Usage:
  git -C <DeepEyes clone or mirror> show 6c5e79671dbff958a6f9d44848ba2ca87854f0b0:eval/eval_vstar.py > /tmp/eval_vstar.py
  python3 scripts/golden/deepeyes_requests.py --eval-vstar /tmp/eval_vstar.py --commit 6c5e79671dbff958a6f9d44848ba2ca87854f0b0
(Python with Pillow; /usr/bin/python3 on Debian 12 has it.)"""
import argparse
import ast
import copy
import hashlib
import io
import json
import os
import sys
import tempfile
import types

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
ALLOWED_IMPORTS = {"os", "json", "math", "io", "base64", "PIL"}
CONSTANTS = ["abc_map", "IMAGE_FACTOR", "MIN_PIXELS", "MAX_PIXELS", "instruction_prompt_system", "USER_PROMPT_V2",
             "instruction_prompt_before", "user_prompt", "start_token", "end_token"]
MODEL = "deepeyes-fixture"

# the scripted two-turn sample: a zoom on the box the question names, then the answer
QUESTION = "What color is the small square? It is inside [280.5, 180, 340, 236]."
OPTIONS = ["red", "green", "blue", "yellow"]
REPLIES = [
    "<think>The square is too small to see at this scale. I will zoom in on the region the question names.</think>\n"
    "<tool_call>\n{\"name\": \"image_zoom_in_tool\", \"arguments\": {\"bbox_2d\": [280.5, 180, 340, 236], \"label\": \"the small square\"}}\n</tool_call>",
    "<think>In the zoomed region the square is red.</think> <answer>A. red</answer>",
]
MALFORMED = "<think>zoom</think>\n<tool_call>\n{\"name\": \"image_zoom_in_tool\", \"arguments\": {\"bbox_2d\": [280.5, 180, 340, 236]\n</tool_call>"


def load_repo(source):
    """eval_vstar.py's imports (the harmless ones), constants and functions, and process()"""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import) and all(a.name.split(".")[0] in ALLOWED_IMPORTS for a in node.names):
            keep.append(node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ALLOWED_IMPORTS:
            keep.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in CONSTANTS for t in node.targets):
            keep.append(node)
        elif isinstance(node, ast.FunctionDef):
            keep.append(node)
    g = {"__name__": "eval_vstar", "__builtins__": __builtins__}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "eval_vstar.py", "exec"), g)
    missing = [c for c in CONSTANTS if c not in g]
    if missing or "process" not in g:
        sys.exit(f"eval_vstar.py lacks {missing or 'process()'}: not the file this golden is made from")
    return g


class ScriptedClient:
    """client.chat.completions.create(**params): records params (a deep copy: the repository
    extends the same list afterwards) and answers the next scripted reply"""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self.create))

    def create(self, **params):
        self.requests.append(copy.deepcopy(params))
        content = self.replies.pop(0) if self.replies else "<think>still thinking</think>"
        return types.SimpleNamespace(choices=[types.SimpleNamespace(message=types.SimpleNamespace(content=content))])


def sample_image():
    """a 448x336 JPEG: a soft grey gradient, a 12-px red square at (300, 200), a blue one elsewhere"""
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
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def run_process(g, folder, replies):
    client = ScriptedClient(replies)
    g["client"] = client
    g["eval_model_name"] = MODEL
    g["eval"] = ast.literal_eval  # see the module comment
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out  # process() prints "Error!!!!" on a failed call
    try:
        info = g["process"](["sample.jpg", folder])
    finally:
        sys.stdout = saved
    return client.requests, info, out.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-vstar", required=True, help="Visual-Agent/DeepEyes eval/eval_vstar.py")
    ap.add_argument("--commit", default="", help="the DeepEyes commit the file is from (recorded)")
    a = ap.parse_args()
    with open(a.eval_vstar, "rb") as f:
        raw = f.read()
    g = load_repo(raw.decode("utf-8"))
    jpeg = sample_image()
    with open(os.path.join(GOLDEN, "deepeyes-input.jpg"), "wb") as f:
        f.write(jpeg)
    import PIL
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "sample.jpg"), "wb") as f:
            f.write(jpeg)
        with open(os.path.join(d, "sample.json"), "w") as f:
            json.dump({"question": QUESTION, "options": OPTIONS}, f)
        requests, info, _ = run_process(g, d, REPLIES)
        limit_requests, limit_info, _ = run_process(g, d, [])
        bad_requests, bad_info, bad_out = run_process(g, d, [MALFORMED])
    first = requests[0]
    golden = {
        "_comment": "Generated by scripts/golden/deepeyes_requests.py from DeepEyes' eval/eval_vstar.py (its process() run as written with a scripted client). Do not edit by hand.",
        "source": {"repo": "Visual-Agent/DeepEyes", "file": "eval/eval_vstar.py", "commit": a.commit, "sha256": hashlib.sha256(raw).hexdigest()},
        "python": sys.version.split()[0],
        "pillow": PIL.__version__,
        "strings": {k: g[k] for k in ["instruction_prompt_system", "USER_PROMPT_V2", "instruction_prompt_before", "start_token", "end_token"]},
        "sampling": {k: v for k, v in first.items() if k not in ("model", "messages")},
        "maxCalls": len(limit_requests),
        "sample": {"image": "deepeyes-input.jpg", "question": QUESTION, "options": OPTIONS, "model": MODEL, "replies": REPLIES},
        "requests": requests,
        "result": {"pred_ans": info["pred_ans"], "status": info["status"]},
        "turnLimit": {"calls": len(limit_requests), "pred_ans": limit_info["pred_ans"], "status": limit_info["status"],
                      "sameRequest": all(r == limit_requests[0] for r in limit_requests)},
        "malformedCall": {"reply": MALFORMED, "calls": len(bad_requests), "pred_ans": bad_info["pred_ans"], "status": bad_info["status"], "printed": bad_out.strip()},
    }
    with open(os.path.join(GOLDEN, "deepeyes.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote test/fixtures/golden/deepeyes.json ({len(requests)} requests; turn limit {len(limit_requests)} calls; "
          f"malformed call: {bad_info['status']}) and deepeyes-input.jpg ({len(jpeg)} bytes)")


if __name__ == "__main__":
    main()
