"""The ccxt side of `fetch`: the --exchange-config file, the exchange object and its checks.

--exchange-config is YAML or JSON, passed to the ccxt constructor as is (options, timeouts,
proxies, URLs of a mirror or test server) after `${ENV_VAR}` values are read from the
environment. One key is ours and is removed first: `cryptotrain:` holds `FetchSettings`
(retries, backoff, page size). Credential values (apiKey, secret, ...) are secrets: they go to
ccxt and nowhere else; `Redactor` masks them (and every value read from the environment) in
every message we print or raise.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

import ccxt
import yaml

from cryptotrain.config import validate_section
from cryptotrain.data.fetch.retry import FetchSettings
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.errors import UserError

SETTINGS_KEY = "cryptotrain"
SECRET_KEYS = ("apiKey", "secret", "password", "uid", "login", "twofa", "privateKey", "walletAddress", "token")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Redactor:
    """Replaces every secret value in a text with ***: credential values, and values read from ${ENV}
    (6 characters or more, so that e.g. a port number from the environment does not garble messages)."""

    def __init__(self, secrets: list[str]):
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        out = str(text)
        for s in self.secrets:
            out = out.replace(s, "***")
        return out


def _expand(value: Any, origin: str, used: list[str], where: str = "") -> Any:
    """${VAR} -> os.environ[VAR] in every string of a nested config; a missing variable is a UserError.

    The values read are appended to `used`: whatever comes from the environment is treated as secret.
    """
    if isinstance(value, dict):
        return {k: _expand(v, origin, used, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, origin, used, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in os.environ:
                raise UserError(f"{origin}: {where} uses ${{{m.group(1)}}} but that environment variable is not set; "
                                "export it or remove the key")
            used.append(os.environ[m.group(1)])
            return os.environ[m.group(1)]
        out = _ENV.sub(sub, value)
        if out != value and _ENV.fullmatch(value) and where.rsplit(".", 1)[-1] not in SECRET_KEYS:
            typed = yaml.safe_load(out) if out.strip() else out  # timeout: ${T} -> an int, as written inline
            return typed if isinstance(typed, (bool, int, float)) else out
        return out
    return value


def _find_secrets(cfg: Any) -> list[str]:
    """Values of credential keys anywhere in the config (strings only)."""
    found: list[str] = []
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k in SECRET_KEYS and isinstance(v, (str, int)) and str(v):
                found.append(str(v))
            else:
                found += _find_secrets(v)
    elif isinstance(cfg, list):
        for v in cfg:
            found += _find_secrets(v)
    return found


def load_exchange_config(path: Path | None) -> tuple[dict, FetchSettings, Redactor]:
    """Read --exchange-config -> (ccxt constructor dict, our FetchSettings, redactor of its secrets)."""
    if path is None:
        return {}, FetchSettings(), Redactor([])
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--exchange-config {path}: file not found; pass a YAML or JSON file")
    text = path.read_text()
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise UserError(f"--exchange-config {path}: not valid {kind} ({str(err).splitlines()[0]}); fix the file") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UserError(f"--exchange-config {path}: expected a mapping of ccxt constructor options, e.g. timeout: 30000")
    from_env: list[str] = []
    cfg = _expand(raw, f"--exchange-config {path}", from_env)
    redact = Redactor(_find_secrets(cfg) + [v for v in from_env if len(v) >= 6])
    settings_raw = cfg.pop(SETTINGS_KEY, None) or {}
    settings = validate_section(FetchSettings, settings_raw, f"--exchange-config {path}", prefix=SETTINGS_KEY,
                                show_input=False)
    return cfg, settings, redact


def make_exchange(exchange_id: str, config: dict, redact: Redactor) -> ccxt.Exchange:
    """A ccxt exchange that can fetch OHLCV (UserError naming the closest ids otherwise). No network."""
    name = exchange_id.strip().lower()
    if name not in ccxt.exchanges:
        close = difflib.get_close_matches(name, ccxt.exchanges, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see `python -c 'import ccxt; print(ccxt.exchanges)'`"
        raise UserError(f"unknown exchange {exchange_id!r}; {hint}")
    try:
        ex = getattr(ccxt, name)(config)
    except (TypeError, ValueError, KeyError, AttributeError, ccxt.BaseError) as err:
        raise UserError(f"--exchange-config does not suit ccxt's {name}: {redact(err)}") from None
    if not ex.has.get("fetchOHLCV"):
        others = [e for e in ("binance", "kraken", "coinbase", "okx", "bybit") if e != name]
        raise UserError(f"exchange {name} does not provide candles (no fetchOHLCV in ccxt); "
                        f"use one that does, e.g. {', '.join(others[:3])}")
    return ex


def check_timeframe(ex: ccxt.Exchange, timeframe: str) -> int:
    """The timeframe in ms; UserError listing the exchange's timeframes when it has not this one."""
    supported = list((ex.timeframes or {}).keys())
    if supported and timeframe not in supported:
        raise UserError(f"{ex.id} has no {timeframe!r} candles; supported timeframes: {', '.join(supported)}")
    try:
        return timeframe_to_ms(timeframe)
    except UserError:
        fixed = [t for t in supported if _fixed(t)]
        raise UserError(f"timeframe {timeframe!r} has no fixed length (calendar months are not supported); "
                        f"use one of {', '.join(fixed)}") from None


def _fixed(tf: str) -> bool:
    try:
        timeframe_to_ms(tf)
        return True
    except UserError:
        return False


def check_symbol(ex: ccxt.Exchange, symbol: str) -> dict:
    """The market for `symbol` (after load_markets); UserError suggesting close symbols otherwise."""
    if symbol in ex.markets:
        return ex.markets[symbol]
    symbols = list(ex.symbols or ex.markets.keys())
    upper = {s.upper(): s for s in symbols}
    by_id = getattr(ex, "markets_by_id", None) or {}
    close: list[str] = []
    if symbol.upper() in upper:
        close.append(upper[symbol.upper()])
    if symbol in by_id:
        close += [m["symbol"] for m in (by_id[symbol] if isinstance(by_id[symbol], list) else [by_id[symbol]])]
    close += difflib.get_close_matches(symbol.upper(), list(upper), n=5, cutoff=0.6)
    names = list(dict.fromkeys(upper.get(c, c) for c in close))[:5]
    hint = f"did you mean {', '.join(names)}?" if names else f"{ex.id} lists {len(symbols)} markets, e.g. {', '.join(symbols[:5])}"
    raise UserError(f"unknown symbol {symbol!r} on {ex.id}; {hint}")


def page_limit(ex: ccxt.Exchange, market: dict, settings: FetchSettings) -> int:
    """Candles per request: the setting, else the exchange's documented maximum, else 500."""
    if settings.page_limit:
        return settings.page_limit
    features = getattr(ex, "features", None) or {}
    kind = market.get("type") or "spot"
    node = features.get(kind) or {}
    if kind in ("swap", "future") and isinstance(node, dict) and "fetchOHLCV" not in node:
        node = node.get("linear" if market.get("linear") else "inverse") or {}
    limit = ((node or {}).get("fetchOHLCV") or {}).get("limit") if isinstance(node, dict) else None
    return int(limit) if limit else 500
