package dispatcher

import "testing"

func TestWireName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"GetFilesystemStats", "get_filesystem_stats"},
		{"UpdateBackupID", "update_backup_id"},
		{"HTTPServer", "http_server"},
		{"GetV2Stats", "get_v2_stats"},
		{"ID", "id"},
		{"CreateInstance", "create_instance"},
		{"MySQLStats", "my_sql_stats"},
		{"A", "a"},
		{"Ab", "ab"},
		{"AB", "ab"},
		{"ABTest", "ab_test"},
		{"Prepare", "prepare"},
		{"GetID", "get_id"},
		{"GetIDs", "get_i_ds"}, // the rule, literally: use MethodName for such names
		{"IDToken", "id_token"},
		{"GetHTTP", "get_http"},
		{"GetHTTPS2", "get_https2"},
		{"V2", "v2"},
		{"V2Api", "v2_api"},
		{"Get2FA", "get2_fa"},
		{"Get10Items", "get10_items"},
		{"Item10", "item10"},
		{"IPv4Address", "i_pv4_address"},
		{"OSProfiler", "os_profiler"},
		{"ListDatabases", "list_databases"},
		{"CreateDatabase", "create_database"},
		{"GetUserACL", "get_user_acl"},
		{"Already_Snake", "already_snake"},
		{"Get_stats", "get_stats"},
		{"ResizeFS", "resize_fs"},
		{"XMLHTTPRequest", "xmlhttp_request"},
		{"PingV1", "ping_v1"},
		{"Ünïcode", "ünïcode"},
		{"GetÉtat", "get_état"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := WireName(tt.in); got != tt.want {
			t.Errorf("WireName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
