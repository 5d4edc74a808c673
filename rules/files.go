package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"casebot/bot"
)

// FilesDir is where the files a playbook ships (a removal script a mail carries, say) live,
// beside it: an email's attach and an attach action name them relative to it.
const FilesDir = "files"

// ShippedFile is a file shipped beside a playbook, read when the playbook is loaded.
type ShippedFile struct {
	Data   []byte
	SHA256 string // hex, as bot.File.SHA256 carries it
}

// textTypes are the MIME types of the text files playbooks ship, which Go's own table lacks;
// a script goes as text so that a mail client shows it rather than runs it.
var textTypes = map[string]string{
	".txt": "text/plain; charset=utf-8", ".ps1": "text/plain; charset=utf-8", ".sh": "text/plain; charset=utf-8",
	".md": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8", ".csv": "text/csv; charset=utf-8",
}

// ContentType is the MIME type of a file by its name.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := textTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// shipped reads the file a playbook names in n, relative to FilesDir, and returns it as an
// effect carries it.
func (p *parser) shipped(n *yaml.Node, what string) (bot.File, bool) {
	name, ok := p.text(n, what)
	if !ok {
		return bot.File{}, false
	}
	if !fs.ValidPath(name) || name == "." {
		p.errorf(n, "%s: %q: want a path relative to %s/ beside the playbook, without .. or a leading /", what, name, FilesDir)
		return bot.File{}, false
	}
	if p.opts.Files == nil {
		p.errorf(n, "%s: %q: the playbook was not loaded from a directory, so it has no files", what, name)
		return bot.File{}, false
	}
	f, seen := p.pb.Files[name]
	if !seen {
		data, err := fs.ReadFile(p.opts.Files, path.Join(FilesDir, name))
		if err != nil {
			p.errorf(n, "%s: reading the file beside the playbook: %v", what, err)
			return bot.File{}, false
		}
		sum := sha256.Sum256(data)
		f = &ShippedFile{Data: data, SHA256: hex.EncodeToString(sum[:])}
		if p.pb.Files == nil {
			p.pb.Files = map[string]*ShippedFile{}
		}
		p.pb.Files[name] = f
	}
	return bot.File{Name: path.Base(name), ContentType: ContentType(name), Path: name, SHA256: f.SHA256}, true
}

// attachments reads an email's `attach:`: files shipped beside the playbook, by path, and
// files on the case, `{case_file: title}`.
func (p *parser) attachments(n *yaml.Node, what string) []bot.File {
	items, ok := p.sequence(n, what)
	if ok && len(items) == 0 {
		p.errorf(deref(n), "%s: want at least one file", what)
	}
	var files []bot.File
	for _, it := range items {
		var f bot.File
		if deref(it).Kind == yaml.MappingNode {
			f, ok = p.caseFile(it, what)
		} else {
			f, ok = p.shipped(it, what)
		}
		if ok {
			files = append(files, f)
		}
	}
	return files
}

// caseFile reads `{case_file: title}`: the newest file on the case whose title matches the
// pattern (see MatchTitle), chosen when the mail is claimed.
func (p *parser) caseFile(n *yaml.Node, what string) (bot.File, bool) {
	v := p.object(n, what, []string{"case_file"}, nil)["case_file"]
	if v == nil {
		return bot.File{}, false
	}
	title, ok := p.text(v, what+": case_file")
	return bot.File{CaseTitle: title}, ok
}

// MatchTitle reports whether a file's title matches a case_file pattern: "*" matches any run
// of characters, everything else itself, without regard to case. People title files by hand
// ("Signed termination letter (final).pdf"), so only "*" is special.
func MatchTitle(pattern, title string) bool {
	parts := strings.Split(strings.ToLower(pattern), "*")
	rest, ok := strings.CutPrefix(strings.ToLower(title), parts[0])
	if !ok || len(parts) == 1 {
		return ok && rest == ""
	}
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, part)
		if i < 0 {
			return false
		}
		rest = rest[i+len(part):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}

// attach reads `attach: {file}` or `attach: {template, name, title}`: a file shipped beside
// the playbook, or a text rendered from a comment template when the action is claimed.
func (p *parser) attach(n *yaml.Node, what string) Action {
	a := Action{Kind: bot.KindAttach}
	m := p.object(n, what, nil, []string{"file", "template", "name", "title"})
	if m == nil {
		return a
	}
	var f bot.File
	switch file, tmpl := m["file"], m["template"]; {
	case file != nil && tmpl != nil:
		p.errorf(tmpl, "%s: file or template, not both", what)
	case file != nil:
		f, _ = p.shipped(file, what+": file")
		if v := m["name"]; v != nil {
			p.errorf(v, "%s: name: a shipped file keeps its own name", what)
		}
	case tmpl != nil:
		f.Template = p.template(tmpl, what+": template", bot.KindComment)
		f.Name, f.ContentType = f.Template+".txt", ContentType(".txt")
		if v := m["name"]; v != nil {
			if s, ok := p.text(v, what+": name"); ok {
				f.Name, f.ContentType = s, ContentType(s)
			}
		}
	default:
		p.errorf(deref(n), "%s: want file (shipped beside the playbook) or template", what)
	}
	// Salesforce titles a file by its name without the extension unless told otherwise.
	f.Title = strings.TrimSuffix(f.Name, path.Ext(f.Name))
	if v := m["title"]; v != nil {
		f.Title, _ = p.text(v, what+": title")
	}
	a.File = &f
	return a
}
