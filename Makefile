# lmsrecon — GNU Makefile. Quiet unless V=1; objects in build/.
# Targets: all, demo, test, bench, install, clean.  SANITIZE=1 builds with
# ASan+UBSan; WERROR=1 turns warnings into errors (CI sets it).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
PKGS := libxml-2.0 sqlite3 zlib

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BUILD := build/san
else
SAN :=
BUILD := build/rel
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(SAN) -Isrc -I$(BUILD) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lcsv -lm -pthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRC := $(filter-out src/main.c,$(wildcard src/*.c))
OBJ := $(SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/gen_schema.o $(BUILD)/gen_formats.o
LIB := $(BUILD)/liblmsrecon.a
BIN := $(BUILD)/lmsrecon
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all demo test unit golden bench install clean deps check-layout html robust valgrind fuzz
.SECONDARY:
all: $(BIN) lmsrecon

lmsrecon: $(BIN)
	$(Q)ln -sf $(BIN) $@

deps:
	$(Q)scripts/install-deps

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The snapshot schema and the built-in format files are compiled in, so the
# binary runs from anywhere without a data directory.
$(BUILD)/gen_schema.c: src/snap_schema.sql scripts/embed
	@mkdir -p $(@D)
	$(Q)scripts/embed snap_schema_sql $< > $@
$(BUILD)/gen_formats.c: $(sort $(wildcard formats/*.xml formats/*.rng)) scripts/embed-formats
	@mkdir -p $(@D)
	$(Q)scripts/embed-formats $(sort $(wildcard formats/*.xml formats/*.rng)) > $@
$(BUILD)/gen_%.o: $(BUILD)/gen_%.c
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(BUILD)/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -MMD -MP -c -o $@ $<
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcriterion

# The reader-only timer of scripts/bench (tests/bench/readbench.c).
READBENCH := $(BUILD)/readbench
$(BUILD)/bench/%.o: tests/bench/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<
$(READBENCH): $(BUILD)/bench/readbench.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)rm -rf fixtures/demo/out fixtures/demo/state
	$(Q)$(BIN) run fixtures/demo/job.xml; rc=$$?; \
	  echo; echo "import files: fixtures/demo/out/lms/ and fixtures/demo/out/crm/"; \
	  echo "report:       fixtures/demo/out/report/ (open report.html in a browser)"; exit $$rc

test: deps
	$(Q)$(MAKE) --no-print-directory all unit golden check-layout html robust fuzz

unit: $(TESTS) $(BIN)
	$(Q)scripts/run-unit $(TESTS)

golden: $(BIN)
	$(Q)scripts/run-golden $(BIN)

check-layout:
	$(Q)scripts/check-layout

html: $(BIN)
	$(Q)scripts/check-html $(BIN)

robust: $(BIN)
	$(Q)scripts/check-robust $(BIN)

# libFuzzer harnesses (tests/fuzz/), each for FUZZ_SECONDS; docs/fuzzing.md.
FUZZ_SECONDS ?= 5
fuzz:
	$(Q)scripts/fuzz $(FUZZ_SECONDS)

# The golden CLI cases again, every lmsrecon under valgrind's memcheck.
valgrind: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VALGRIND=1 scripts/run-golden $(BIN)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(READBENCH)
	$(Q)scripts/bench

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/lmsrecon
	if [ -f docs/lmsrecon.1 ]; then install -m 644 docs/lmsrecon.1 $(DESTDIR)$(MANDIR)/man1/lmsrecon.1; fi

clean:
	rm -rf build lmsrecon

-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d)
