# The versitygw S3 gateway (Apache-2.0) serving the posix directory /data, for tests and
# local runs; production uses MinIO or any S3 service. Built by build.sh.
FROM scratch
COPY etc/passwd etc/group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=10001:10001 empty/ /tmp/
COPY --chown=10001:10001 empty/ /data/
COPY versitygw /usr/local/bin/versitygw
LABEL org.opencontainers.image.title="spawnit-versitygw" \
      org.opencontainers.image.description="versitygw S3 gateway (posix backend on /data) for SpawnIt's tests" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 10001:10001
EXPOSE 7070
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/versitygw"]
CMD ["--port", ":7070", "--health", "/health", "posix", "/data"]
