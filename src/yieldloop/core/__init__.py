"""The scheduler core both front ends run on: queues, timers, poller, traps, run loop."""
