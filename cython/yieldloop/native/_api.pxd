# The kernel running in this thread (see _api.pyx), for the layers above.
from yieldloop.core._core cimport Core
from yieldloop.native._task cimport Task
from yieldloop.native._kernel cimport Kernel

# The kernel running in this thread, or the guest kernel of the
# yieldloop.Loop running in it; None / RuntimeError naming ``what`` if none.
cdef Kernel running_kernel()
cdef Kernel need_kernel(str what)
# The kernel front end of a core: its own, or a guest one made for it.
cdef Kernel kernel_of_core(Core core)
# time() for the layers above (timeouts): the running kernel's clock.
cdef double kernel_time() except? -1.0
cdef Task spawn_task(Kernel k, object coro, object name, object context=*)
