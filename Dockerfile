# Build: the static binary, made by the same script as `make build` and the CI image check
# (deploy/image_test.go builds it without Docker and checks it is static and small enough).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION: empty for the release version in cmd/verifier/version.go; COMMIT: .git is not in the context, so
# pass it: docker build --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
ARG VERSION=
ARG COMMIT=unknown
RUN VERSION=${VERSION} COMMIT=${COMMIT} GOTOOLCHAIN=local sh scripts/build-binary.sh /out/verifier && mkdir -m 1777 /out/tmp

# Run: scratch with the CA certificates (outbound HTTPS to Microsoft and IDEMIA trusts the system roots) and
# the binary, nothing else: no shell, no package manager. A numeric non-root user, so Kubernetes'
# runAsNonRoot can verify it. No HEALTHCHECK: Kubernetes probes /healthz (liveness) and /readyz (readiness).
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
COPY --from=build /out/verifier /verifier
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/verifier"]
CMD ["serve"]
