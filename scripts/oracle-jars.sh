#!/usr/bin/env bash
# Fetch the "oracle" (a real Apache Kafka: broker, controller and command line tools) as plain
# jars, resolved by Maven from oracle/pom.xml, into a cache directory outside the repository.
#
#   scripts/oracle-jars.sh            fetch if needed; print the libs directory on stdout
#   scripts/oracle-jars.sh --check    fetch nothing; exit 1 (with the reason) if not there yet
#
# Environment:
#   KAFKABOOK_KAFKA_VERSION   Kafka version (default: <kafka.version> in oracle/pom.xml)
#   KAFKABOOK_ORACLE_DIR      cache directory (default: $HOME/.cache/kafkabook/oracle/<version>);
#                             the jars go to its libs/ subdirectory
#   MVN                       the Maven command (default: mvn)
#
# A second run finds the stamp file written after a complete copy and returns at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/../oracle/pom.xml"
[[ -f "$pom" ]] || { echo "oracle-jars: $pom is missing" >&2; exit 2; }

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "oracle-jars: unknown argument ${1} (try --help)" >&2; exit 2 ;;
esac

pom_version="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$pom" | head -n 1)"
version="${KAFKABOOK_KAFKA_VERSION:-$pom_version}"
[[ -n "$version" ]] || { echo "oracle-jars: no Kafka version in $pom" >&2; exit 2; }
dir="${KAFKABOOK_ORACLE_DIR:-$HOME/.cache/kafkabook/oracle/$version}"
libs="$dir/libs"
stamp="$libs/.kafkabook-oracle"

# What the stamp promises: this version, resolved from this exact pom.
pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"
want="kafka=$version pom=$pom_sum"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && ls "$libs"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
  echo "$libs"
  exit 0
fi
if (( check_only )); then
  echo "oracle-jars: Apache Kafka $version jars not found in $libs: run \`make oracle-jars\`" >&2
  exit 1
fi

mvn="${MVN:-mvn}"
command -v "$mvn" >/dev/null 2>&1 || { echo "oracle-jars: Maven ($mvn) is not installed" >&2; exit 1; }
command -v java >/dev/null 2>&1 || echo "oracle-jars: warning: no java on PATH; the jars cannot run" >&2

mkdir -p "$dir"
# Copy into a fresh directory next to the final one, then swap: an interrupted run never leaves
# a half-filled libs/ behind a valid stamp.
tmp="$(mktemp -d "$dir/libs.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "oracle-jars: resolving Apache Kafka $version with Maven into $libs" >&2
"$mvn" -B -q -f "$pom" \
  -Dstyle.color=never \
  -Dkafka.version="$version" \
  -Doracle.libs="$tmp" \
  dependency:copy-dependencies >&2

if ! ls "$tmp"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
  echo "oracle-jars: Maven finished but kafka_2.13-$version.jar is not in $tmp" >&2
  exit 1
fi

echo "$want" > "$tmp/.kafkabook-oracle"
rm -rf "$libs.old"
[[ -d "$libs" ]] && mv "$libs" "$libs.old"
mv "$tmp" "$libs"
rm -rf "$libs.old"
trap - EXIT
echo "oracle-jars: $(ls "$libs"/*.jar | wc -l) jars in $libs" >&2
echo "$libs"
