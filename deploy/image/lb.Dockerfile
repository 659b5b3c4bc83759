# The round-robin reverse proxy in front of SpawnIt's replicas (deploy/loadbalancer),
# used when the instances stack runs more than one. Built by build.sh; runs as the
# unprivileged user 10001. Settings: LB_LISTEN, LB_BACKENDS.
FROM scratch
COPY etc/passwd etc/group /etc/
COPY spawnit-lb /usr/local/bin/spawnit-lb
LABEL org.opencontainers.image.title="spawnit-lb" \
      org.opencontainers.image.description="Round-robin HTTP load balancer for SpawnIt replicas" \
      org.opencontainers.image.source="https://github.com/spawnit/spawnit"
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/spawnit-lb"]
