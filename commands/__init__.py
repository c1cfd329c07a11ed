"""The ``/case`` command set: the table (:mod:`commands.table`), its typed parameters,
the text parser, forms, buttons, and :class:`~commands.invoke.CaseCommands`, the
:class:`bot.ports.Core` that adapters call."""
