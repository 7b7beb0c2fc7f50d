#!/bin/sh
set -eu

echo "building"
mkdir -p out
cp src/*.txt out/
