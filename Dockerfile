# The bot as a long-running daemon. State (tracker, heartbeat, simulated broker book) lives in
# /state; keys and alert settings come from the environment (an env file), never the image.
# It installs only what trading needs: no extras (the backtest extra's numba and matplotlib are
# for backtests; `bot backtest` still runs here, without --plot).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOT_STATE_DIR=/state

RUN useradd --create-home --uid 10001 bot && mkdir /state && chown bot:bot /state
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY strategies ./strategies
COPY config ./config
RUN pip install --no-cache-dir .

USER bot
VOLUME ["/state"]
# Healthy while the daemon's heartbeat (written every minute and after each wake) is fresh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["bot", "health", "--max-age-minutes", "5"]
ENTRYPOINT ["bot", "run"]
CMD ["--config", "config/demo.toml"]
