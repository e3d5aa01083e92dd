# crm-bot as a container: `docker build -t crm-bot .`, then see deploy/compose.yaml and
# docs/operations.md ("Containers"). Configuration comes from the environment (CRM_BOT_*,
# bot/config.py); the data directory (TinyDB backend) is the volume /var/lib/crm-bot.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user that owns nothing but its data directory.
RUN groupadd --system --gid 10001 crm-bot \
    && useradd --system --uid 10001 --gid crm-bot --home-dir /var/lib/crm-bot --shell /usr/sbin/nologin crm-bot \
    && install -d -o crm-bot -g crm-bot -m 0700 /var/lib/crm-bot

WORKDIR /opt/crm-bot
# Dependencies first (pinned by constraints.txt), so a code change does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY templates ./templates
RUN pip install --no-compile . -c constraints.txt
COPY config.toml /etc/crm-bot/config.toml

USER crm-bot
ENV CRM_BOT_CONFIG=/etc/crm-bot/config.toml \
    CRM_BOT_DATA=/var/lib/crm-bot
VOLUME ["/var/lib/crm-bot"]
# webhook mode listens here ([telegram] webhook_port); polling mode needs no port
EXPOSE 8443
STOPSIGNAL SIGTERM
ENTRYPOINT ["crm-bot"]
CMD ["run"]
