"""send() into a generator: an echo, and a chatbot that asks a name and greets.

PEP 342 (Python 2.5) made ``yield`` an expression: ``x = yield value`` hands
``value`` out *and* receives what the caller passes to ``gen.send(x)``. The
generator became a coroutine: it can be fed, not only read. A new generator
must first run to its first ``yield`` ("priming"): ``next(gen)``, which is
``gen.send(None)``.

send() is the call at the heart of every coroutine runtime: yieldloop's
kernel resumes each task with send(), passing in the result of what the task
waited for (see the tornado_handler example).

The chatbot's answers are scripted, so the example never waits for a
keyboard; call ``chat(["your name", "your mood"])`` to give your own.
"""

SCRIPT = ("Ada", "curious")


def echo():
    """Send it anything; it yields it back, counted."""
    count = 0
    received = yield "echo is ready"  # primed: parked here until the first send()
    while True:
        count += 1
        received = yield f"echo #{count}: {received}"  # out goes the reply, in comes the next


def chatbot():
    """Ask a name and a mood, then return a goodbye."""
    name = yield "Hello! What is your name?"  # the answer arrives as the value of yield
    mood = yield f"Nice to meet you, {name}. How are you today?"
    return f"Glad you are {mood}, {name}. Goodbye!"  # rides on StopIteration.value


def chat(answers=SCRIPT):
    """Drive a chatbot by hand with send(), printing both sides."""
    bot = chatbot()
    line = next(bot)  # prime: run to the first yield and get the first question
    for answer in answers:
        print(f"  bot: {line}")
        print(f"  you: {answer}")
        try:
            line = bot.send(answer)  # resume the bot; `answer` becomes the value of its yield
        except StopIteration as end:  # the bot returned
            print(f"  bot: {end.value}")
            return
    bot.close()  # ran out of answers: close() raises GeneratorExit at the paused yield
    print("  (no more answers; the chat was closed)")


def main():
    """Run the example."""
    print("1. An echo: prime it with next(), then send() values in:")
    e = echo()
    print(f"  next(e)          -> {next(e)!r}")
    for word in ("hello", "world"):
        print(f"  e.send({word!r:7}) -> {e.send(word)!r}")
    e.close()

    print("2. A chatbot: each send() answers the question the bot last yielded:")
    chat()


if __name__ == "__main__":
    main()
