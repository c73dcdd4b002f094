"""The modules of a kind by their ``NAME``: how ``families`` and ``styles`` list theirs."""


class ModuleRegistry(dict):
    """{module.NAME: module} in the order given; an unknown name is a KeyError naming the known ones."""

    def __init__(self, kind, modules):
        super().__init__((module.NAME, module) for module in modules)
        self.kind = kind

    def __missing__(self, name):
        raise KeyError(f'unknown {self.kind} {name!r}; known: {sorted(self)}')
