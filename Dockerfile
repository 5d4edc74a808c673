# Build a static binary (pure Go: SQLite is modernc.org/sqlite, no cgo), then ship it alone in a
# minimal image that runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/casebot . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/casebot /casebot
# The ledger's directory, owned by the user casebot runs as (the image has no shell to mkdir).
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/casebot
USER nonroot:nonroot
# Mount the config at /etc/casebot. The ledger needs a volume: set store.path to
# /var/lib/casebot/casebot.db. The status server listens on 127.0.0.1 by default: set
# http.listen to ":9090" to reach /healthz, /readyz and /metrics from outside.
VOLUME /var/lib/casebot
EXPOSE 9090
ENTRYPOINT ["/casebot"]
CMD ["run", "-config", "/etc/casebot/casebot.yaml"]
