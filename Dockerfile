# Build a static binary, then ship it alone in a minimal image that runs as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/casebot .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/casebot /usr/local/bin/casebot
# The ledger (SQLite) lives in /data; mount a volume there.
WORKDIR /data
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/casebot"]
CMD ["run", "-config", "/etc/casebot/casebot.yaml"]
