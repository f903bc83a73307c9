"""The under_await example's program, run as a script so the trace CLI sees its run()."""

import yieldloop as yl
from yieldloop.examples.under_await import main_async

print(yl.run(main_async))
