"""A vLLM server through its OpenAI-compatible API: the production path on a GPU.

The grammar travels as Lark text in the request body; the OpenAI client would
send it with `extra_body={"structured_outputs": {"grammar": lark_text}}`, which
puts `structured_outputs` at the top level of the JSON body, as done here with
the standard library (no client package needed).  The old `guided_grammar`
fields were removed in vLLM 0.12.

Start the server with llguidance as the structured-output backend, so the
grammar is read with the same Lark dialect as the embedded path (`auto` tries
xgrammar's own Lark reader first, whose semantics differ):

    vllm serve HuggingFaceTB/SmolLM2-135M-Instruct \\
        --structured-outputs-config.backend guidance \\
        --max-model-len 4096 --port 8000

and point nlq at it:

    nlq ask "5xx rate of checkout" -d promql --model vllm:http://127.0.0.1:8000
    nlq ask ... --model 'vllm:http://gpu-host:8000#HuggingFaceTB/SmolLM2-135M-Instruct'

The model name after `#` is optional: without it (and without NLQ_VLLM_MODEL)
the first model the server lists at /v1/models is used.  NLQ_VLLM_API_KEY is
sent as a bearer token when set; NLQ_VLLM_TIMEOUT (seconds, default 60).

Tested here against a small HTTP server on the loopback that checks the request
shape and answers like vLLM: vLLM itself cannot run on the development machine
(no GPU; its wheel pins another torch).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from nlq.errors import NlqError, UsageError
from nlq.models.base import Completion, Generation, Messages


class ServerError(NlqError):
    """The vLLM server could not be reached or answered with an error."""


class VLLMModel:
    tokenizer = None  # remote: tokenization happens on the server

    def __init__(self, base_url: str, model: str | None = None, timeout: float | None = None,
                 api_key: str | None = None):
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"vllm: expected a URL like http://127.0.0.1:8000, got {base_url!r}")
        self.base_url = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
        self.timeout = timeout or float(os.environ.get("NLQ_VLLM_TIMEOUT", "60"))
        self.api_key = api_key or os.environ.get("NLQ_VLLM_API_KEY")
        self.model = model or os.environ.get("NLQ_VLLM_MODEL") or self._first_model()
        self.name = f"vllm:{self.base_url}#{self.model}"

    # -- HTTP ------------------------------------------------------------------
    def _request(self, path: str, body: dict | None = None) -> dict:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise ServerError(f"vLLM server {self.base_url}{path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ServerError(f"vLLM server {self.base_url} unreachable: {exc}") from None
        except ValueError as exc:
            raise ServerError(f"vLLM server {self.base_url}{path}: not JSON: {exc}") from None

    def _first_model(self) -> str:
        models = self._request("/v1/models").get("data") or []
        if not models:
            raise ServerError(f"vLLM server {self.base_url} lists no models")
        return str(models[0]["id"])

    # -- ModelBackend ----------------------------------------------------------
    def count_tokens(self, messages: Messages) -> int:
        # an estimate: the server tokenizes; ~4 characters a token for English and code
        return sum(len(m["content"]) for m in messages) // 4

    def request_body(
        self, messages: Messages, grammar: Any, max_tokens: int, temperature: float, n: int,
        seed: int | None,
    ) -> dict:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "n": n,
            "structured_outputs": {"grammar": grammar.lark},
        }
        if seed is not None:
            body["seed"] = seed
        return body

    def generate(
        self,
        prompts: list[Messages],
        grammar: Any,
        max_tokens: int = 128,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[Generation]:
        results = []
        for messages in prompts:
            start = time.perf_counter()
            reply = self._request(
                "/v1/chat/completions",
                self.request_body(messages, grammar, max_tokens, temperature, n, seed),
            )
            elapsed = time.perf_counter() - start
            choices = sorted(reply.get("choices") or [], key=lambda c: c.get("index", 0))
            if not choices:
                raise ServerError(f"vLLM server {self.base_url}: reply without choices: {reply}")
            usage = reply.get("usage") or {}
            total_completion = int(usage.get("completion_tokens") or 0)
            completions = []
            for choice in choices:
                text = (choice.get("message") or {}).get("content") or ""
                reason = choice.get("finish_reason") or "stop"
                completions.append(
                    Completion(
                        text=text,
                        tokens=total_completion // len(choices),
                        finish_reason="length" if reason == "length" else "grammar",
                    )
                )
            results.append(
                Generation(
                    completions=completions,
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    timings={"total_s": elapsed, "decode_s": elapsed},
                )
            )
        return results


def load(argument: str) -> VLLMModel:
    """`--model vllm:<base URL>[#<model name>]`."""
    if not argument:
        raise UsageError("--model vllm:<base URL> needs the server's URL, e.g. vllm:http://127.0.0.1:8000")
    url, _, model = argument.partition("#")
    return VLLMModel(url, model or None)
