package taskmanager

// CreateInstanceArgs are the arguments of create_instance.
type CreateInstanceArgs struct {
	InstanceID       string `json:"instance_id" rpc:"required"`
	Name             string `json:"name"`
	FlavorID         string `json:"flavor_id"`
	VolumeSize       int    `json:"volume_size"`
	DatastoreManager string `json:"datastore_manager"`
	DsVersion        string `json:"ds_version"`
}

// DeleteInstanceArgs are the arguments of delete_instance.
type DeleteInstanceArgs struct {
	InstanceID string `json:"instance_id" rpc:"required"`
}

// InstancePayload is the payload of the trove.instance.create.*
// notifications.
type InstancePayload struct {
	InstanceID       string `json:"instance_id"`
	InstanceName     string `json:"instance_name"`
	TenantID         string `json:"tenant_id"`
	FlavorID         string `json:"flavor_id"`
	VolumeSize       int    `json:"volume_size"`
	Datastore        string `json:"datastore"`
	DatastoreVersion string `json:"datastore_version"`
	// Message says what failed, in trove.instance.create.error.
	Message string `json:"message,omitempty"`
}
