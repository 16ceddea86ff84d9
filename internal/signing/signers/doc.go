// Package signers opens a signing.Signer from the URI in logkeeper's
// configuration (signing.key):
//
//	file:///ABS/PATH/key.pem   a private key file (signing.LoadKeyFile)
//	awskms://KEY               an AWS KMS key: key id, alias/NAME, key ARN or
//	                           alias ARN (awskms.New)
//
// It is a package of its own because awskms depends on signing: signing
// stays free of the AWS SDK, so verifiers that only check signatures do not
// pull it in.
package signers
