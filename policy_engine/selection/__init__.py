"""Expert pools, verifiable draws and panel checks. Builds on the evaluate and policy stages."""
