#!/usr/bin/env python3
"""Writes test/fixtures/golden/deepeyes-judge.json from DeepEyes' OWN judge script,
Visual-Agent/DeepEyes eval/judge_result.py: its get_chat_template(), get_gpt4_score_ICE(),
get_prompt() and process() run here as written, on result lines made here, with a scripted
stand-in for its OpenAI client that records every request and answers a scripted verdict. So the
expected judge requests, ground truths and accuracies are the repository's own;
test/unit/eval/deepeyesJudge.test.ts compares what `--judge-style deepeyes` sends and scores.

Nothing of judge_result.py runs but its imports of the standard library, its functions and its
constants; the names its process() reads from the script's top level are given to it: `client`
(the stand-in), `eval_model_name`, `test_type` and `error_nums_type` (a counter of 'ERROR' answers).

Usage:
  git -C <DeepEyes clone or mirror> show 6c5e79671dbff958a6f9d44848ba2ca87854f0b0:eval/judge_result.py > /tmp/judge_result.py
  /usr/bin/python3 scripts/golden/deepeyes_judge.py --judge-result /tmp/judge_result.py --commit 6c5e79671dbff958a6f9d44848ba2ca87854f0b0"""
import argparse
import ast
import copy
import hashlib
import io
import json
import os
import sys
import types

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "test", "fixtures", "golden")
ALLOWED_IMPORTS = {"os", "json", "io", "base64"}
CONSTANTS = ["abc_map", "test_types"]
MODEL = "judge-fixture"

QUESTION = "What is the color of the woman's bag?"
# (pred_ans, the judge's scripted reply): each a case the rule check or the judge decides;
# the ground truth is always the first option, 'white', as on V* (eval_vstar.py line 273)
CASES = [
    ("A", None),                            # one letter: right when it is A
    ("B", None),                            # one letter: wrong
    ("A.", None),                           # two characters with a dot: right when it holds A
    ("C.", None),                           # wrong
    ("A. white", None),                     # holds the ground truth
    ("The answer is A. white.", None),      # holds it too
    ("\\boxed{A}", None),                   # \boxed{...} unwrapped, then one letter
    ("white", "Judgement: 1"),              # the LLM judge
    ("black", "Judgement: 0"),
    ("a white bag", "  1  "),               # no 'Judgement:': the reply, stripped, must be 1 or 0
    ("a white one", "I think 1"),           # no 'Judgement:' and not exactly 1/0: wrong (format warning)
    ("whitish", "Judgement: maybe"),        # neither 1 nor 0 after 'Judgement:': wrong
    ("ERROR: no answer", "Judgement: 0"),   # counted in error_nums_type too
    ("", "Judgement: 0"),                   # an empty answer is judged
]


def load_repo(source):
    """judge_result.py's standard-library imports, constants and functions"""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import) and all(a.name.split(".")[0] in ALLOWED_IMPORTS for a in node.names):
            keep.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in CONSTANTS for t in node.targets):
            keep.append(node)
        elif isinstance(node, ast.FunctionDef):
            keep.append(node)
    g = {"__name__": "judge_result", "__builtins__": __builtins__}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "judge_result.py", "exec"), g)
    missing = [f for f in ["get_chat_template", "get_gpt4_score_ICE", "get_prompt", "process"] if f not in g]
    if missing:
        sys.exit(f"judge_result.py lacks {missing}: not the file this golden is made from")
    return g


class ScriptedClient:
    """client.chat.completions.create(**params): records params and answers the scripted verdict"""

    def __init__(self, reply):
        self.reply = reply
        self.requests = []
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self.create))

    def create(self, **params):
        self.requests.append(copy.deepcopy(params))
        return types.SimpleNamespace(choices=[types.SimpleNamespace(message=types.SimpleNamespace(content=self.reply))])


def judge(g, pred, reply):
    client = ScriptedClient(reply)
    g["client"] = client
    g["eval_model_name"] = MODEL
    g["test_type"] = "direct_attributes"
    g["error_nums_type"] = {"direct_attributes": 0, "relative_position": 0}
    line = json.dumps({"question": QUESTION, "answer": "white", "pred_ans": pred, "pred_output": [
        {"role": "assistant", "content": f"<think>...</think> <answer>{pred}</answer>"}]})
    out = io.StringIO()
    saved, sys.stdout = sys.stdout, out  # process() prints a warning on a verdict it cannot read
    try:
        acc, _ = g["process"](line)
    finally:
        sys.stdout = saved
    return {"pred_ans": pred, "judgeReply": reply, "acc": acc, "requests": client.requests,
            "errors": g["error_nums_type"]["direct_attributes"], "printed": out.getvalue().strip()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge-result", required=True, help="Visual-Agent/DeepEyes eval/judge_result.py")
    ap.add_argument("--commit", default="", help="the DeepEyes commit the file is from (recorded)")
    a = ap.parse_args()
    with open(a.judge_result, "rb") as f:
        raw = f.read()
    g = load_repo(raw.decode("utf-8"))
    golden = {
        "_comment": "Generated by scripts/golden/deepeyes_judge.py from DeepEyes' eval/judge_result.py (its process() run as written with a scripted client). Do not edit by hand.",
        "source": {"repo": "Visual-Agent/DeepEyes", "file": "eval/judge_result.py", "commit": a.commit, "sha256": hashlib.sha256(raw).hexdigest()},
        "python": sys.version.split()[0],
        "strings": {"chat_template": g["get_chat_template"](), "examples": g["get_gpt4_score_ICE"]()},
        "sample": {"question": QUESTION, "answer": "white", "options": ["white", "black", "red", "blue"], "groundTruth": "A. white"},
        "model": MODEL,
        "cases": [judge(g, pred, reply) for pred, reply in CASES],
    }
    with open(os.path.join(GOLDEN, "deepeyes-judge.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    asked = sum(1 for c in golden["cases"] if c["requests"])
    print(f"wrote test/fixtures/golden/deepeyes-judge.json ({len(CASES)} cases, {asked} judged by the LLM)")


if __name__ == "__main__":
    main()
