# The zitadel/oidc example OpenID Provider (Apache-2.0), for tests and local runs only:
# its issuer is http://localhost:$PORT/, its clients and keys are built in, its users
# come from $USERS_FILE. Production uses Keycloak. Built by build.sh.
FROM scratch
COPY etc/passwd etc/group /etc/
COPY --chown=10001:10001 empty/ /tmp/
COPY --chown=10001:10001 empty/ /etc/oidc-op/
COPY oidc-op /usr/local/bin/oidc-op
LABEL org.opencontainers.image.title="spawnit-oidc-op" \
      org.opencontainers.image.description="zitadel/oidc example OpenID Provider for SpawnIt's tests (not for production)" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/oidc-op"]
