"""The local web app (``arrowscope ui``) and the static HTML report (``arrowscope report``).

It reads through :mod:`arrowscope.query` only (the public views), never the
store. Modules, one job each:

- ``live``: the app's one query session, refreshed in the background, with
  answers cached per version of the data;
- ``sql/``: the queries of the pages, over the views; ``pages``: each page's JSON;
- ``encode``: results as JSON columns (hyperparameters pivoted to columns);
- ``sqlbox``: the read-only SQL box (statement check, parse-tree check,
  a DuckDB without file access);
- ``security``: token, Host check and response headers; ``server``: the
  Starlette routes; ``commands``: the ``ui`` and ``report`` commands;
- ``assets``: the files it serves (``static/``, plotly.js from the ``plotly``
  package) and the one-script bundle of the report; ``report``: the report.

Everything but ``commands`` and ``security`` needs the ``ui`` extra
(``pip install 'arrowscope[ui]'``): Starlette, uvicorn and plotly.
"""
