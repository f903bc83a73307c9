"""Real asyncio libraries on yieldloop.Loop: aiohttp (server and client) and websockets."""

import asyncio

import pytest

import yieldloop

# Third-party C extensions: kept out of the valgrind run, which checks ours.
pytestmark = pytest.mark.heavy


def run(coro):
    return yieldloop.run_asyncio(coro)


def test_aiohttp_server_and_client():
    aiohttp = pytest.importorskip("aiohttp")
    from aiohttp import web

    async def hello(request):
        name = request.match_info.get("name", "world")
        return web.json_response({"hello": name, "loop": type(asyncio.get_running_loop()).__name__})

    async def echo(request):
        return web.Response(body=await request.read())

    async def main():
        app = web.Application()
        app.router.add_get("/hello/{name}", hello)
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/hello/yieldloop") as r:
                    greeting = await r.json()
                payload = bytes(range(256)) * 4096                    # 1 MiB
                async with session.post(f"http://127.0.0.1:{port}/echo", data=payload) as r:
                    echoed = await r.read()
                statuses = await asyncio.gather(*[
                    _status(session, f"http://127.0.0.1:{port}/hello/{i}") for i in range(50)])
        finally:
            await runner.cleanup()
        return greeting, echoed == payload, statuses

    greeting, same, statuses = run(main())
    assert greeting == {"hello": "yieldloop", "loop": "Loop"}
    assert same
    assert statuses == [200] * 50


async def _status(session, url):
    async with session.get(url) as r:
        await r.read()
        return r.status


def test_websockets_server_and_client():
    websockets = pytest.importorskip("websockets")
    try:
        from websockets.asyncio.server import serve
        from websockets.asyncio.client import connect
    except ImportError:
        pytest.skip("needs websockets 13 or newer")

    async def handler(ws):
        async for message in ws:
            await ws.send(message[::-1])

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                replies = []
                for text in ("hello", "yieldloop", "x" * 100_000):
                    await ws.send(text)
                    replies.append(await ws.recv())
        return replies

    replies = run(main())
    assert replies[:2] == ["olleh", "pooldleiy"]
    assert replies[2] == "x" * 100_000
