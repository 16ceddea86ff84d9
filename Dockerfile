# logkeeper: a static binary on a distroless base, running as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t logkeeper .
#   docker run --rm -v $PWD/logkeeper.yaml:/etc/logkeeper/logkeeper.yaml:ro -p 127.0.0.1:9090:9090 logkeeper
#
# The default command is the scheduled daemon with probes and metrics on
# port 9090 (all interfaces of the container: --listen-remote).

FROM golang:1.27.3 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
      -ldflags "-s -w -X github.com/logkeeper/logkeeper/service/app.Version=${VERSION}" \
      -o /out/logkeeper ./cmd/logkeeper

# distroless/static: no shell, no package manager, CA certificates and
# tzdata included (CRON_TZ= schedules need the zone database). The nonroot
# tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logkeeper /usr/local/bin/logkeeper
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/logkeeper"]
CMD ["run", "-c", "/etc/logkeeper/logkeeper.yaml", "--listen", "0.0.0.0:9090", "--listen-remote"]
