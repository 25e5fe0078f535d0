"""Downloading candles through ccxt: the exchange and its settings (`exchange`), the plan of what
to fetch around an existing file (`plan`), paged, resumable downloads into segment files
(`pages`) and retries with backoff (`retry`). The command around them is commands/fetch.py.
"""
