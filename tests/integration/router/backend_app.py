"""A small model server for the router tests, run as its own process on a loopback port.

Predictions are a pure function of the request, so a test knows every answer in advance:
KServe v1 `{"instances": [[x, ...], ...]}` -> `{"predictions": [x + offset, ...]}`, where an
instance whose first value is below `--flip-below` predicts x + offset + 0.5 instead (a
planted disagreement). Other paths:

    POST /v2/models/<m>/infer   OIP v2: outputs[0].data, same function of inputs[0].data
    POST /labels                {"predictions": ["high" if x >= 0.5 else "low", ...]}
    ANY  /echo                  method, path, query, headers and body as JSON
    ANY  /text                  a plain-text answer (nothing to analyse)
    ANY  /status/<code>         an empty JSON answer with that status
    ANY  /drop                  closes the connection without answering

Every answer carries `x-backend: <name>`; `--delay-ms` delays every answer, and a request
header `x-delay-ms` delays that one; `--fail-status CODE` answers every prediction with that status;
`--tls-cert FILE --tls-key FILE` serves HTTPS.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from typing import Any

from aiohttp import web

__all__ = ["main"]


def _predict(instances: list[Any], offset: float, flip_below: float | None) -> list[float]:
    values = [float(i[0] if isinstance(i, list) else i) for i in instances]
    return [x + offset + (0.5 if flip_below is not None and x < flip_below else 0.0) for x in values]


def _app(name: str, offset: float, flip_below: float | None, delay_s: float, fail_status: int | None = None) -> web.Application:
    async def delay(request: web.Request) -> None:
        pause = delay_s + float(request.headers.get("x-delay-ms", "0")) / 1000
        if pause:
            await asyncio.sleep(pause)

    def answer(body: Any, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, headers={"x-backend": name})

    async def kserve(request: web.Request) -> web.StreamResponse:
        await delay(request)
        if fail_status is not None:
            return answer({"error": "failing on purpose"}, status=fail_status)
        body = await request.json()
        return answer({"predictions": _predict(body["instances"], offset, flip_below)})

    async def oip(request: web.Request) -> web.StreamResponse:
        await delay(request)
        body = await request.json()
        data = _predict(body["inputs"][0]["data"], offset, flip_below)
        return answer(
            {
                "model_name": request.match_info["model"],
                "outputs": [{"name": "score", "datatype": "FP64", "shape": [len(data)], "data": data}],
            }
        )

    async def labels(request: web.Request) -> web.StreamResponse:
        await delay(request)
        scores = _predict((await request.json())["instances"], offset, flip_below)
        return answer({"predictions": ["high" if s >= 0.5 else "low" for s in scores]})

    async def echo(request: web.Request) -> web.StreamResponse:
        await delay(request)
        body = await request.read()
        headers = [[k.lower(), v] for k, v in request.headers.items()]
        return answer(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "headers": headers,
                "body": body.decode("latin-1"),
            }
        )

    async def text(request: web.Request) -> web.StreamResponse:
        await delay(request)
        return web.Response(text="plain words, not JSON", headers={"x-backend": name})

    async def status(request: web.Request) -> web.StreamResponse:
        await delay(request)
        return answer({}, status=int(request.match_info["code"]))

    async def drop(request: web.Request) -> web.StreamResponse:
        request.transport.close()  # type: ignore[union-attr]
        raise asyncio.CancelledError

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.add_routes([
        web.post("/v2/models/{model}/infer", oip),
        web.post("/labels", labels),
        web.route("*", "/echo", echo),
        web.route("*", "/text", text),
        web.route("*", "/status/{code}", status),
        web.route("*", "/drop", drop),
        web.post("/{tail:.*}", kserve),
    ])  # fmt: skip
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="backend")
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--flip-below", type=float, default=None)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, default=None)
    parser.add_argument("--tls-cert", default=None)
    parser.add_argument("--tls-key", default=None)
    args = parser.parse_args()
    app = _app(args.name, args.offset, args.flip_below, args.delay_ms / 1000, args.fail_status)
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, ssl_context=context)


if __name__ == "__main__":
    main()
