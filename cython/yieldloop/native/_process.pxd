# What a kernel's run shares with the whole process: signals and fork().
cdef object take_signals(object on_sigint, int wakeup_fd)
cdef int restore_signals(object saved) except -1
cdef int after_fork_in_child() except -1
