package certs_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
)

type (
	rsaPrivateKey   = rsa.PrivateKey
	ecdsaPrivateKey = ecdsa.PrivateKey
)

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
