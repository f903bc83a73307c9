"""A chat server: every message is broadcast to all clients through a queue.

Each connection's handler reads lines from its client and puts them into
one Queue; a broadcaster task gets them from the queue and writes each to
every connected client. Three scripted members join, speak and leave one
after another, and each prints what it heard.
"""

import yieldloop as yl


class Chat:
    """The server: the connected members, the message queue, the broadcaster."""

    def __init__(self):
        self.members = {}  # name -> Stream
        self.messages = yl.Queue()
        self.delivered = 0  # messages broadcast so far
        self.progress = yl.Condition()

    async def handle(self, stream):
        """One connection: the first line is the name, then messages."""
        name = (await stream.readline()).decode().strip()
        self.members[name] = stream
        await self.messages.put(f"* {name} joined")
        async for line in stream:  # until the member leaves (end of stream)
            await self.messages.put(f"{name}: {line.decode().strip()}")
        del self.members[name]
        await self.messages.put(f"* {name} left")

    async def broadcast(self):
        """Forever: take a message from the queue and send it to everyone."""
        while True:
            message = await self.messages.get()
            for stream in list(self.members.values()):
                await stream.send_all(message.encode() + b"\n")
            self.delivered += 1
            async with self.progress:
                self.progress.notify_all()

    async def wait_delivered(self, count):
        """Wait until ``count`` messages have been broadcast."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.delivered >= count)


class Member:
    """A scripted chat client: a stream and a task that listens to it."""

    def __init__(self, name):
        self.name = name
        self.heard = []

    async def join(self, port):
        self.stream = await yl.open_connection("127.0.0.1", port)
        await self.stream.send_all(f"{self.name}\n".encode())
        self.listener = yl.spawn(self.listen)

    async def listen(self):
        async for line in self.stream:
            self.heard.append(line.decode().rstrip())

    async def say(self, text):
        await self.stream.send_all(f"{text}\n".encode())

    async def leave(self):
        await self.stream.send_eof()  # the server's handler sees the end...
        await self.listener  # ...and closes its side: we read until then
        await self.stream.aclose()


async def main_async():
    chat = Chat()
    async with await yl.start_server(chat.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        broadcaster = yl.spawn(chat.broadcast)
        members = [Member(name) for name in ("ann", "bob", "cy")]
        lines = {"ann": "hi all", "bob": "hello ann", "cy": "hey"}
        sent = 0
        # Each step waits until its message reached everyone, so the story
        # is the same on every run.
        for m in members:
            await m.join(port)
            sent += 1
            await chat.wait_delivered(sent)
        for m in members:
            await m.say(lines[m.name])
            sent += 1
            await chat.wait_delivered(sent)
        for m in members:
            await m.leave()
            sent += 1
            await chat.wait_delivered(sent)
        broadcaster.cancel()
    for m in members:
        print(f"  {m.name} heard:")
        for line in m.heard:
            print(f"    {line}")


def main():
    """Run the example."""
    print("A chat server and three members:")
    yl.run(main_async)


if __name__ == "__main__":
    main()
