"""Reports for the support lead: one query layer every surface reads.

- :mod:`bot.reports.period`: what a report is asked for (a period, filters) and the
  grammar that reads them;
- :mod:`bot.reports.figures`: what it holds (plain values);
- :mod:`bot.reports.read`: the reads a surface calls (who may see what is the policy
  table's; the SQL is ``storage.reports``);
- :mod:`bot.reports.words`: how figures are said in text (``/case stats``, labels the
  dashboard shows).
"""
