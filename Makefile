# Reciprocal Clubs backend. `make` builds build/reciprocal; see README.md.
CC      ?= cc
CSTD     = -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     = -Wall -Wextra -Werror
DEPS_PKG = libmicrohttpd jansson libsodium libpq liboath libqrencode libcurl openssl libcmark libical icu-i18n icu-uc
PKG_CFLAGS := $(shell pkg-config --cflags $(DEPS_PKG) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(DEPS_PKG) 2>/dev/null) -lnats -lhpdf -lcrypt -lpthread -lm
CFLAGS  ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc -Ibuild/gen
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC_ALL  := $(shell find src -name '*.c' | sort)
SRC_LIB  := $(filter-out src/main.c,$(SRC_ALL))
SQL      := $(shell find src -path '*/migrations/*.sql' | sort)
GEN      := build/gen/migrations_embedded.c build/gen/graphql_schema_sdl.c

OBJ      := $(patsubst src/%.c,build/obj/%.o,$(SRC_LIB)) $(patsubst build/gen/%.c,build/obj/gen/%.o,$(GEN))
OBJ_SAN  := $(patsubst src/%.c,build/san/%.o,$(SRC_LIB)) $(patsubst build/gen/%.c,build/san/gen/%.o,$(GEN))

TEST_SRC := $(shell find tests -name 'test_*.c' | sort)
TEST_BIN := $(patsubst tests/%.c,build/tests/%,$(TEST_SRC))
TEST_SUPPORT := $(shell find tests/support -name '*.c' | sort)

.PHONY: all deps run test test-faults unit bench fmt fmt-check clean tests-build fuzz-build schema schema-check check-layers
all: build/reciprocal

deps:
	@scripts/deps.sh

build/gen/migrations_embedded.c: $(SQL) $(shell find src -path '*/migrations/SERVICE') tools/embed_sql.sh
	@mkdir -p $(dir $@)
	tools/embed_sql.sh $(SQL) > $@.tmp && mv $@.tmp $@
# docs/schema.graphql is the reviewed GraphQL contract; the binary embeds it. It is assembled from
# the core part and every service's fragment (src/services/<name>/<name>.graphql): `make schema`
# writes it, `make schema-check` (run by `make test`) fails when the committed file differs.
GQL_PARTS := src/gateway/schema.graphql $(sort $(wildcard src/services/*/*.graphql))
build/gen/schema.graphql: $(GQL_PARTS) tools/assemble_schema.sh
	@mkdir -p $(dir $@)
	tools/assemble_schema.sh $(GQL_PARTS) > $@.tmp && mv $@.tmp $@
schema: build/gen/schema.graphql
	cp $< docs/schema.graphql
schema-check: build/gen/schema.graphql
	@cmp -s $< docs/schema.graphql || { echo "docs/schema.graphql differs from the assembly of" \
	    "$(GQL_PARTS) (run make schema and review the diff):"; diff -u docs/schema.graphql $< | head -40; exit 1; }
build/gen/graphql_schema_sdl.c: docs/schema.graphql tools/embed_text.sh
	@mkdir -p $(dir $@)
	tools/embed_text.sh graphql_schema_sdl $< > $@.tmp && mv $@.tmp $@

build/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
build/san/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -MMD -MP -c $< -o $@

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@
build/san/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -MMD -MP -c $< -o $@

build/libreciprocal.a: $(OBJ)
	@rm -f $@; ar rcs $@ $^
build/libreciprocal-san.a: $(OBJ_SAN)
	@rm -f $@; ar rcs $@ $^

build/reciprocal: build/obj/main.o build/libreciprocal.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS)
# The sanitized binary is what the end-to-end tests start.
build/reciprocal-san: build/san/main.o build/libreciprocal-san.a
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(PKG_LIBS)

build/tests/%: tests/%.c $(TEST_SUPPORT) build/libreciprocal-san.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -Itests -o $@ $< $(TEST_SUPPORT) build/libreciprocal-san.a $(PKG_LIBS)

# test_svgchart parses the charts with libxml2 (libxml2-dev, scripts/deps.sh); only it links it
# (`private`: the library objects it depends on build without these flags).
build/tests/lib/svgchart/test_svgchart: private ALL_CFLAGS += $(shell pkg-config --cflags libxml-2.0)
build/tests/lib/svgchart/test_svgchart: private PKG_LIBS += $(shell pkg-config --libs libxml-2.0)

tests-build: build/reciprocal build/reciprocal-san $(TEST_BIN) fuzz-build

# libFuzzer targets (clang; Debian's libraries are not instrumented, so each fuzzer links only the
# project sources it exercises). tests/run.sh runs each for RECIPROCAL_FUZZ_SECONDS (30).
FUZZ_CC   = clang
FUZZ_GQL_SRC = $(addprefix src/lib/graphql/,gql_arena.c gql_lexer.c gql_ast.c gql_parser.c \
               gql_print.c) src/core/err.c
build/fuzz/fuzz_gql_parser: tests/lib/graphql/fuzz_gql_parser.c $(FUZZ_GQL_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(WARN) -DGQL_FUZZ -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Isrc -o $@ $^
fuzz-build: build/fuzz/fuzz_gql_parser

# The include graph against docs/architecture.md's Layers table, and the checker's own test.
check-layers:
	@tools/check_layers.sh .
	@tests/tools/test_check_layers.sh

# Every test runs against a real PostgreSQL and nats-server started by tests/run.sh.
test: deps check-layers tests-build schema-check
	@tests/run.sh $(TEST_BIN) build/fuzz/fuzz_gql_parser

# The whole fault-injection run (issue 17; .ci/run runs it after make test): test_ledger_faults with
# every fault (RECIPROCAL_TEST_FAULTS=full), i.e. also a SIGKILL of PostgreSQL and a second pause
# of the stream leader on top of what make test injects. ~80 s.
test-faults: deps tests-build
	@RECIPROCAL_TEST_FAULTS=full tests/run.sh build/tests/e2e/test_ledger_faults

run: deps build/reciprocal
	@scripts/run.sh

bench: deps build/reciprocal
	@bench/run.sh
# a bench program bench/<name>.c becomes build/bench-<name with - for _>, linked against the library
# with the binary's own link line (the one list of libraries: DEPS_PKG/PKG_LIBS above)
.SECONDEXPANSION:
build/bench-%: bench/$$(subst -,_,$$*).c build/libreciprocal.a
	$(CC) $(CSTD) $(WARN) -O2 $(PKG_CFLAGS) -Isrc -o $@ $< build/libreciprocal.a $(PKG_LIBS)

fmt:
	clang-format -i $(SRC_ALL) $(shell find tests bench -name '*.[ch]') $(shell find src -name '*.h')
fmt-check:
	clang-format --dry-run -Werror $(SRC_ALL) $(shell find tests bench -name '*.[ch]') $(shell find src -name '*.h')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
