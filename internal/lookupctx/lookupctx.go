// Package lookupctx holds the one type that lets package core recognise
// package cache's Cache without importing it: only packages of this module
// can name Mark, so no other Store can claim what Cache promises (that it
// bounds its shared store call by the deadline of the context it is given,
// even when that context's Done does not close at the deadline).
package lookupctx

// Mark is the parameter of Cache.OwnsLookupDeadline.
type Mark struct{}
