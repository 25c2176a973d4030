package guestagent

// PrepareArgs are the arguments of prepare.
type PrepareArgs struct {
	// DatastoreManager names the datastore to install, such as "mysql".
	DatastoreManager string `json:"datastore_manager" rpc:"required"`
	// DsVersion is the datastore version, such as "5.7". It is new in API
	// version 1.1: a 1.0 guest installs the version it was built with.
	DsVersion string `json:"ds_version,omitempty"`
}

// FSStats are the statistics of the filesystem holding the instance's
// data, as Trove's guest reports them: sizes in GB, rounded to two
// decimals, and the raw block counts.
type FSStats struct {
	BlockSize   uint64  `json:"block_size"`
	TotalBlocks uint64  `json:"total_blocks"`
	FreeBlocks  uint64  `json:"free_blocks"`
	Total       float64 `json:"total"`
	Free        float64 `json:"free"`
	Used        float64 `json:"used"`
}
