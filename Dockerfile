# The bot as a long-running daemon. State (tracker, heartbeat, simulated broker book) lives in
# /state; keys and alert settings come from the environment (an env file), never the image.
# It installs only what trading needs: no extras (the backtest extra's numba and matplotlib are
# for backtests; `bot backtest` still runs here, without --plot).
#
# Reproducible: the base image is pinned by version and digest, the dependencies by
# requirements.lock (exact versions, each file checked against its hash), so an image built
# next year holds the same software. To move the base image, change both parts of the FROM line;
# `docker buildx imagetools inspect python:3.11.N-slim-bookworm` prints a tag's digest (the
# "Digest:" line), as does `docker inspect --format '{{index .RepoDigests 0}}' IMAGE` after a pull.
FROM python:3.11.16-slim-bookworm@sha256:c425d915a89a6dcd3183b1797ad9bd8878caff5a417f6371c8df93c8ea8b727f

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_STATE_DIR=/state

RUN useradd --create-home --uid 10001 bot && mkdir /state && chown bot:bot /state
WORKDIR /app
# Dependencies first, in their own layer (a code change does not reinstall them); the lock also
# pins setuptools, which builds the bot below without fetching anything unpinned.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY strategies ./strategies
COPY config ./config
RUN pip install --no-cache-dir --no-deps --no-build-isolation .

USER bot
VOLUME ["/state"]
# Healthy while the daemon's heartbeat (written every minute and after each wake) is fresh.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["bot", "health", "--max-age-minutes", "5"]
ENTRYPOINT ["bot", "run"]
CMD ["--config", "config/demo.toml"]
