"""Bare-yield generator tasks take turns on the kernel's ready queue.

Once generators could be suspended, a small loop could run many of them in
turns: the "trampoline" of PEP 342 and the generator schedulers of the
2000s. Each task runs until it yields, and a bare ``yield`` means "I can
wait, let the others run". That is cooperative multitasking, and it is still
what every ``await`` does underneath.

yieldloop runs such tasks as they are: a task that yields None goes to the
back of the kernel's ready queue (a C ring buffer), so ready tasks run in
FIFO order and the output is the same on every run.
"""

import yieldloop as yl


def worker(name, steps):
    """A task: do ``steps`` steps, letting the others run after each."""
    for step in range(1, steps + 1):
        print(f"  {name} step {step}")
        yield  # None goes to the kernel: "requeue me at the back"
    print(f"  {name} done")
    return f"{name} did {steps} steps"


def supervisor():
    """The main task: spawn three workers, then join each."""
    tasks = [yl.spawn(worker, name, steps) for name, steps in (("A", 3), ("B", 2), ("C", 3))]
    # spawn() only queues the new tasks; none runs until this task yields.
    print("  spawned A, B and C; the ready queue is now A B C")
    for t in tasks:
        result = yield t  # yielding a Task: the kernel resumes us with its result
        print(f"  joined: {result}")


def main():
    """Run the example."""
    print("Three generator tasks, each yielding after every step:")
    yl.run(supervisor)


if __name__ == "__main__":
    main()
