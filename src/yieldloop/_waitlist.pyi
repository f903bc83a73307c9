from typing import final

@final
class WaitList:
    """FIFO of parked traps."""

    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
