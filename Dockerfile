# The bot as a long-running daemon. State (tracker, simulated broker book) lives in /state.
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
ENTRYPOINT ["bot", "run"]
CMD ["--config", "config/demo.toml"]
