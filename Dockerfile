# Build: a static binary with the project's tags (see Makefile).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags jwx_es256k,nomsgpack -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION}" -o /out/verifier ./cmd/verifier

# Run: distroless static (CA certificates, no shell), non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/verifier /verifier
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/verifier"]
CMD ["serve"]
