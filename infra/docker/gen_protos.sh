#!/bin/sh
# Generate the Python code of protos/ into gen/, as `make protos` does, for images built without make.
# usage: gen_protos.sh ROOT [PYTHON]
set -eu
cd "${1:-.}"
python="${2:-python3}"
rm -rf gen
mkdir -p gen
# shellcheck disable=SC2046 # one argument per .proto file
"$python" -m grpc_tools.protoc -I protos --python_out=gen --pyi_out=gen --grpc_python_out=gen \
  $(find protos -name '*.proto')
find gen/lattice -type d -exec touch {}/__init__.py \;
