"""Files in and out: pcap/pcapng reading and writing, the JSONL encoder and reader."""
