# syntax=docker/dockerfile:1
#
# Builds the same file layout, user and entrypoint as `make image`, for
# people who build with Docker:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     -t ghcr.io/meshcert/meshcert:$(cat VERSION) .
#
# The binaries and files match `make image` when the Go version is the
# same, but the digest does not: Docker writes its own layers and config.
# `make image` is the reproducible build. hack/release/dockerfile_test.go
# checks that this file and the Go builder agree on the layout.

# NOTE: pinned by tag only; pin by digest when the release pipeline can
# resolve one.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY hack/release/go.mod hack/release/go.sum hack/release/
RUN cd hack/release && go mod download
COPY . .
# The CA bundle comes from the Go module that make image uses, so both
# images trust the same roots.
RUN cd hack/release && go run . ca-bundle -o /out/etc/ssl/certs/ca-certificates.crt
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOAMD64=v1 GOARM64=v8.0 \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X github.com/meshcert/meshcert/internal/version.Version=$(cat VERSION) -X github.com/meshcert/meshcert/internal/version.Commit=${COMMIT}" \
      -o /out/ ./cmd/webhook ./cmd/exporter ./cmd/meshcert

FROM scratch
COPY --from=build --chmod=0644 /out/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0755 /out/webhook /webhook
COPY --from=build --chmod=0755 /out/exporter /exporter
COPY --from=build --chmod=0755 /out/meshcert /meshcert
USER 65532:65532
ENTRYPOINT ["/meshcert"]
