# What a kernel's run shares with the whole process (signals, fork): its
# functions are C-level only, for the kernel; nothing here is for Python.
