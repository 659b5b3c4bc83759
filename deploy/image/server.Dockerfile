# SpawnIt's server: spawnit, OpenTofu and the provider mirror, nothing else. Built by
# build.sh (which prepares this context); runs as the unprivileged user 10001. The Docker
# socket is mounted at run time and its group given with --group-add.
FROM scratch
COPY etc/passwd etc/group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# Empty directories owned by the user: temporary files, HOME, and the data directory
# (workdirs, plugin cache). A named volume mounted on /var/lib/spawnit starts as a copy
# of it, ownership included.
COPY --chown=10001:10001 empty/ /tmp/
COPY --chown=10001:10001 empty/ /home/spawnit/
COPY --chown=10001:10001 empty/ /var/lib/spawnit/
COPY tofu spawnit /usr/local/bin/
COPY providers/ /opt/spawnit/providers/
ENV HOME=/home/spawnit \
    TMPDIR=/tmp \
    SPAWNIT_TOFU=/usr/local/bin/tofu \
    SPAWNIT_PROVIDER_MIRROR=/opt/spawnit/providers \
    SPAWNIT_DATA_DIR=/var/lib/spawnit \
    CHECKPOINT_DISABLE=1
LABEL org.opencontainers.image.title="spawnit-server" \
      org.opencontainers.image.description="SpawnIt server (spawnit serve) with OpenTofu and its provider mirror" \
      org.opencontainers.image.source="https://github.com/spawnit/spawnit"
WORKDIR /home/spawnit
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/spawnit", "serve"]
