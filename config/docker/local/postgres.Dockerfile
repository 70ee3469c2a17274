# PostgreSQL from Debian's package on the local Debian base, for the dev compose stack where no registry is
# reachable (config/docker/local.compose.yml). Behaves like the upstream postgres image as far as the stack
# uses it: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB create the role and database on first start, data
# under /var/lib/postgresql/data, pg_isready for the health check.
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE}
ARG PG_MAJOR=15
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}" \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "/usr/lib/postgresql/${PG_MAJOR}/bin" /usr/lib/postgresql/bin \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
