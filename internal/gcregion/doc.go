// Package gcregion is the list of Genesys Cloud regions: each AWS region
// name with the domain under which its API (api.DOMAIN) and login service
// (login.DOMAIN) live.
//
// The list is the region map of the published Genesys Cloud Go SDK
// (platformclientv2/configuration.go of MyPureCloud/platform-client-sdk-go,
// release 188.0.0), which the other SDKs share. A region Genesys adds later
// is reached by setting the API and login URLs instead of a region.
package gcregion
