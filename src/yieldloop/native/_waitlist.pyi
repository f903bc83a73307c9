from typing import final

@final
class WaitList:
    """FIFO of parked traps; ``label`` names what a task parked here waits for."""

    label: str | None
    def __init__(self, label: str | None = None) -> None: ...

    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
